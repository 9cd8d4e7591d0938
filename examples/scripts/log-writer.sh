#!/bin/sh
# Appends a numbered line to a log file (and the pane) every LOG_INTERVAL seconds (default 2).
file=${1:-logs/demo.log}
mkdir -p "$(dirname "$file")"
n=0
trap 'echo "log-writer: wrote $n lines to $file"; exit 0' INT TERM
while true; do
  n=$((n + 1))
  line="$(date '+%H:%M:%S') ${LOG_PREFIX:-demo} line $n"
  echo "$line"
  echo "$line" >> "$file"
  sleep "${LOG_INTERVAL:-2}"
done
