#!/bin/sh
# One proxied connection: the client's bytes to the api (found by its session name), the answer back.
exec nc "$(/scripts/resolve.sh "$API_HOST")" 8080
