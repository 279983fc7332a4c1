#!/usr/bin/env bash
# Starts AppKit (app.mjs) in the foreground; the process that runs is node itself (exec), so a
# caller's pid is AppKit's, for /proc readings and SIGTERM. The caller sets the environment
# (DATABRICKS_HOST, DATABRICKS_TOKEN, DATABRICKS_JOB_*, APPKIT_PORT, …); HOME should point at a
# directory without .databrickscfg, and NODE_ENV=production avoids the dev server.
set -euo pipefail
cd "$(dirname "$0")"
export NODE_ENV=${NODE_ENV:-production}
export DISABLE_APPKIT_INTERNAL_TELEMETRY=true DO_NOT_TRACK=1
exec node app.mjs
