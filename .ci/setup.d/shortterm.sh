#!/usr/bin/env bash
# Short-term storage (issue 6): better-sqlite3 is a native addon; when no prebuilt binary can be
# fetched, npm builds it with node-gyp, which needs make and a C++ compiler (python3 comes with the machine).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
command -v make >/dev/null && command -v g++ >/dev/null || apt_install make g++
# The TLS test makes a private CA and a server certificate with the openssl command.
command -v openssl >/dev/null || apt_install openssl
