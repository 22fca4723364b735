#!/usr/bin/env bash
# nettap tests: curl drives the proxy, tcpdump captures loopback traffic (pcap mode). The pcap
# test also runs a throwaway PostgreSQL server: see postgresql.sh.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install curl tcpdump
