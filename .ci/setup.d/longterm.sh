#!/usr/bin/env bash
# Long-term storage (issue 5): zstd-napi builds its native addon from bundled zstd sources with
# node-gyp when no prebuilt binary can be fetched; it needs a C/C++ toolchain, make and python3.
# The emulators (s3rver, Azurite) are npm dev dependencies; the GCS wire fake is test code.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install make g++ python3
