#!/usr/bin/env bash
# The otlp tests generate throwaway TLS certificates with the openssl CLI.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install openssl
