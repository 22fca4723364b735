#!/usr/bin/env bash
# Chromium for the traffic explorer's browser tests (test/ui/), driven by playwright-core with
# executablePath /usr/bin/chromium (playwright's own browser download is not used).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install chromium
