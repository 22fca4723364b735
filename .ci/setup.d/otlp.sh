#!/usr/bin/env bash
# The otlp tests generate throwaway TLS certificates with the openssl CLI, and encode zstd
# request bodies with the zstd CLI (a real encoder, as the Collector's).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install openssl zstd
