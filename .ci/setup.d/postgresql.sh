#!/usr/bin/env bash
# PostgreSQL server programs (initdb, pg_ctl, postgres) for nettap's live pcap test, which starts a
# throwaway cluster as user nobody (runuser, from util-linux). Debian puts them in
# /usr/lib/postgresql/<version>/bin, not on PATH; test/support/backend.ts (pgBin) looks there.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
command -v runuser >/dev/null || apt_install util-linux
