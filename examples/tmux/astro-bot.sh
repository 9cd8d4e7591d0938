#!/bin/sh
# Stand-in for the original example's astro_bot.py: a long-running bot that reports its mode,
# and shuts down cleanly on Ctrl-C (kstlib's graceful stop waits for this).
trap 'echo "astro-bot: shutting down"; sleep 1; echo "astro-bot: bye"; exit 0' INT TERM
echo "astro-bot starting: mode=${BOT_MODE:-unset} log_level=${LOG_LEVEL:-INFO}"
n=0
while true; do
  n=$((n + 1))
  echo "astro-bot [$BOT_MODE] tick $n"
  sleep 2
done
