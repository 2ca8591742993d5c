#!/usr/bin/env bash
# The console in a real browser: Debian's chromium (installed when missing) driven by
# playwright-core from npm (into a temp folder) through .ci/console-browser.js. Screenshots
# of each page land in target/console-screenshots/.
# Usage: console-browser.sh BASE_URL ADMIN_USER ADMIN_PASSWORD
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1 user=$2 password=$3
out="$PWD/target/console-screenshots"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chromium=$(command -v chromium || true)
[ -n "$chromium" ] || { echo "chromium is not installed" >&2; exit 1; }
timeout 300 npm install --prefix "$work" --no-audit --no-fund --loglevel=error playwright-core >"$work/npm.log" 2>&1 \
  || { tail -5 "$work/npm.log"; echo "npm install playwright-core failed" >&2; exit 1; }
rm -rf "$out"
timeout 180 node .ci/console-browser.js "$work" "$base" "$user" "$password" "$out" "$chromium"
