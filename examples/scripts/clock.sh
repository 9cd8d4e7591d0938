#!/bin/sh
# A visible clock: one line a second until interrupted.
trap 'echo "clock: stopping"; exit 0' INT TERM
while true; do
  date '+%Y-%m-%d %H:%M:%S'
  sleep 1
done
