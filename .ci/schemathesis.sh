#!/usr/bin/env bash
# Schemathesis (from PyPI, in a venv of its own) against a running fss's own description,
# GET /api/openapi.json: generated requests to every operation it lists — the admin API,
# the incoming API and the mounted services — for a bounded time; fails on any 5xx or any
# answer that does not match its schema. The live event stream is left out: it stays open
# by design (tests/console.rs covers it).
# Usage: schemathesis.sh BASE_URL ADMIN_USER ADMIN_PASSWORD [SECONDS (default 60)]
set -euo pipefail
base=$1 user=$2 password=$3 budget=${4:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
timeout 300 "$work/venv/bin/pip" install -q 'schemathesis>=4,<5'
cd "$work"   # its cache and reports stay in the temp folder
timeout $((budget + 120)) "$work/venv/bin/st" run "$base/api/openapi.json" --url "$base" \
  --auth "$user:$password" \
  --exclude-path /api/runtime/execution-events \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples 10 --max-time "$budget" \
  --request-timeout 10 --warnings off --no-color >"$work/st.log" 2>&1 || {
    tail -60 "$work/st.log"; echo "schemathesis: failures (above)" >&2; exit 1; }
grep -E 'generated|passed|failed' "$work/st.log" | tail -3
echo "schemathesis: no 5xx, every answer matches the schema"
