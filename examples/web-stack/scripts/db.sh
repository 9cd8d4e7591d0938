#!/bin/sh
# Stands in for a database: its data lives in the named volume (kept by `down`), served on 5432.
[ -s /data/greeting ] || echo "hello from web-db, first started $(date -u +%FT%TZ)" > /data/greeting
echo "db: listening on 5432"
exec nc -ll -p 5432 -e cat /data/greeting
