#!/usr/bin/env bash
# A real Prometheus server for the metrics tests (test/metrics/): remote write, scraping rrpipe's
# prometheus exporter, PromQL over the shipped dashboards.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
apt_install prometheus
