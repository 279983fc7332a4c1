#!/usr/bin/env bash
# API conformance: installs schemathesis (PyPI, pinned) into a throwaway virtualenv under target/
# (reused between runs), starts `polysync up --port 0` (embedded emulator, demo workspace, a fresh
# SQLite store in a temporary directory), and fuzzes the live server against its own
# /openapi.json. Any failure fails the step. Needs the debug binary (`cargo build` first).
#
# DELETE /api/v1/platforms/{name} is disabled in schemathesis.toml (it would remove the demo
# platform mid-run). Streaming routes are left out of fuzzing: /api/events never ends and
# /api/jobs/{job_key}/runs/{run_id}/stream lasts as long as the run; their JSON error paths are
# covered by the server's tests. POST /api/jobs/{job_key}/run is fuzzed (its stream=true answer is
# excluded by leaving `stream` out of the generated query: see --exclude-by below).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/debug/polysync
venv=$target/schemathesis-venv
version=${SCHEMATHESIS_VERSION:-4.32.5}
examples=${SCHEMATHESIS_MAX_EXAMPLES:-25}

[ -x "$bin" ] || { echo "schemathesis: $bin not built (run cargo build)" >&2; exit 1; }
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $version" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d)
log=$work/up.log
# No DATABRICKS_* from the caller: `up` must take the demo (emulator) path.
env -u DATABRICKS_HOST -u DATABRICKS_TOKEN -u DATABRICKS_CONFIG_PROFILE -u POLYSYNC_DATABASE_URL \
  HOME="$work" "$bin" up --port 0 --database-url "$work/polysync.db" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 300); do
  url=$(grep -oE 'Polysync is up: http://[0-9.:]+' "$log" | head -n1 | sed 's/^Polysync is up: //' || true)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "schemathesis: polysync up printed no URL" >&2; cat "$log" >&2; exit 1; }

status=0
# Run from the temporary directory: schemathesis keeps a cache (.schemathesis/) in its working directory.
cd "$work"
"$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis/schemathesis.toml" run "$url/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" \
  --seed 1 \
  --workers 1 \
  --request-timeout 20 \
  --exclude-path-regex '^/api/events$|/stream$' \
  --suppress-health-check all \
  --no-color || status=$?
if [ $status -ne 0 ]; then
  echo "schemathesis: failures above; server log:" >&2
  tail -n 50 "$log" >&2
fi
exit $status
