#!/usr/bin/env bash
# Rebuild dashboard/vendor/plotly-flowlog.min.js: plotly.js with only the trace types the
# dashboard draws (1.4 MB instead of the full 4.8 MB plotly.min.js; the page is drawn sooner).
# Needs Node.js and the npm registry. Run it after changing scripts/plotly_bundle/entry.js, or
# when the Python plotly package moves to another plotly.js version: put that version in
# scripts/plotly_bundle/package.json (the dashboard serves the full bundle until they match).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root"/scripts/plotly_bundle/{package.json,entry.js,build.js} "$work/"
(cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$root/dashboard/vendor"
(cd "$work" && node build.js "$root/dashboard/vendor/plotly-flowlog.min.js")
