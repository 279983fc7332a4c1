#!/usr/bin/env bash
# Installs AppKit 0.38.1 (pinned by package-lock.json) into scripts/appkit-bench/node_modules
# when it is missing; a no-op afterwards. Install scripts are not run (none is needed).
# Called by `cargo bench -p polysync-server --bench vs_appkit`; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "appkit-bench: node not found (AppKit needs Node.js 20+)" >&2; exit 1; }
command -v npm >/dev/null || { echo "appkit-bench: npm not found" >&2; exit 1; }
want=$(node -p 'require("./package-lock.json").packages["node_modules/@databricks/appkit"].version')
have=$(node -p 'try { require("./node_modules/@databricks/appkit/package.json").version } catch { "" }')
if [ "$have" = "$want" ]; then
  exit 0
fi
echo "appkit-bench: installing @databricks/appkit $want (npm ci --ignore-scripts)" >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
