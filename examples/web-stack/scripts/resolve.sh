#!/bin/sh
# The address of a session on the project's networks, by its name: the engine's DNS (aardvark-dns,
# Docker's embedded server), asked with busybox's own resolver (its static nc cannot use DNS).
nslookup "$1" 2>/dev/null | awk '/^Name:/ { named = 1; next } named && /^Address/ { print $NF; exit }'
