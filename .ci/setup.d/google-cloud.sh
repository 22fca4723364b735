#!/usr/bin/env bash
# The Bigtable exporter's tests run the Google Cloud CLI's Bigtable emulator (cbtemulator). It is
# not in Debian's archive, so it cannot be installed here: check that it is present and say how
# to get it. CBTEMULATOR may name it where it is somewhere else (test/support/backend.ts reads it).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
emulator="${CBTEMULATOR:-}"
if [ -z "$emulator" ]; then
  for d in /usr/lib/google-cloud-sdk /usr/share/google-cloud-sdk; do
    if [ -x "$d/platform/bigtable-emulator/cbtemulator" ]; then emulator="$d/platform/bigtable-emulator/cbtemulator"; break; fi
  done
fi
need_file "${emulator:-/usr/lib/google-cloud-sdk/platform/bigtable-emulator/cbtemulator}" "the Bigtable emulator (cbtemulator)" \
  "Install the Google Cloud CLI with its Bigtable emulator: 'apt-get install google-cloud-cli-bigtable-emulator' from Google's apt repository (https://cloud.google.com/sdk/docs/install#deb), or 'gcloud components install bigtable'; or set CBTEMULATOR to the cbtemulator binary."
