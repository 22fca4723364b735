#!/usr/bin/env bash
# redis-server for the redis exporter's tests (test/shortterm2/redis.test.ts; TLS and a 3-node cluster in test/shortterm3/redis-cluster-tls.test.ts).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install redis-server redis-tools   # redis-cli builds the test cluster
