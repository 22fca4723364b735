#!/usr/bin/env bash
# nettap tests: curl drives the proxy, tcpdump captures loopback traffic (pcap mode).
# PostgreSQL (postgres, initdb, pg_ctl) comes with the machine image.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install curl tcpdump
