#!/usr/bin/env bash
# The metrics text of a running fss as scrapers read it: Python's prometheus_client parser
# (from PyPI, in a venv of its own) must type every family — none `unknown`/`untyped` —
# and promtool, when on PATH, must accept it.
# Usage: metrics-check.sh BASE_URL ADMIN_USER ADMIN_PASSWORD
set -euo pipefail
base=$1 user=$2 password=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS -u "$user:$password" "$base/api/management/metrics" -o "$work/metrics.txt"
python3 -m venv "$work/venv"
timeout 300 "$work/venv/bin/pip" install -q prometheus_client
"$work/venv/bin/python" - "$work/metrics.txt" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
bad = [f.name for f in fams if f.type in ("unknown", "untyped")]
if bad:
    sys.exit(f"metrics: {len(bad)} of {len(fams)} families typed unknown: {', '.join(bad)}")
print(f"metrics: prometheus_client parsed {len(fams)} families, every one typed")
PY
if command -v promtool >/dev/null; then
  promtool check metrics <"$work/metrics.txt"
  echo "metrics: promtool accepts them"
else
  echo "metrics: promtool not installed, its check skipped"
fi
