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

# The Firestore exporter's tests run the Google Cloud CLI's Firestore emulator, a Java program:
# Java is in Debian; the emulator (like cbtemulator) comes from Google's apt repository.
# FIRESTORE_EMULATOR_BIN may name it where it is somewhere else (test/support/cloud-emulators.ts).
command -v java >/dev/null || apt_install default-jre-headless
firestore="${FIRESTORE_EMULATOR_BIN:-}"
if [ -z "$firestore" ]; then
  for d in /usr/lib/google-cloud-sdk /usr/share/google-cloud-sdk; do
    if [ -x "$d/platform/cloud-firestore-emulator/cloud_firestore_emulator" ]; then firestore="$d/platform/cloud-firestore-emulator/cloud_firestore_emulator"; break; fi
  done
fi
need_file "${firestore:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator}" "the Firestore emulator" \
  "Install the Google Cloud CLI with its Firestore emulator: 'apt-get install google-cloud-cli-firestore-emulator' from Google's apt repository, or 'gcloud components install cloud-firestore-emulator'; or set FIRESTORE_EMULATOR_BIN."
