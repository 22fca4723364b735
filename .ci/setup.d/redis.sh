#!/usr/bin/env bash
# redis-server for the redis exporter's tests (test/shortterm2/redis.test.ts).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install redis-server
