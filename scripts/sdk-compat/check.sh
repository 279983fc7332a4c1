#!/usr/bin/env bash
# Official-client compatibility: installs the official `databricks-sdk` from PyPI into a throwaway
# virtualenv (under target/, reused between runs), starts `polysync emulator` on a random loopback
# port, and runs check.py against it. Needs the debug binary (`cargo build` first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/debug/polysync
venv=$target/sdk-compat-venv
sdk_version=${DATABRICKS_SDK_VERSION:-0.162.0}

[ -x "$bin" ] || { echo "sdk-compat: $bin not built (run cargo build)" >&2; exit 1; }
if ! "$venv/bin/python" -c "import databricks.sdk, sys; sys.exit(databricks.sdk.version.__version__ != '$sdk_version')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "databricks-sdk==$sdk_version"
fi

token="dapi-sdk-compat-$RANDOM$RANDOM"
oauth_id="sdk-compat-sp"
oauth_secret="secret-$RANDOM$RANDOM"
log=$(mktemp)
"$bin" emulator --port 0 --token "$token" --oauth-client "$oauth_id:$oauth_secret" --time-scale 20 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$log" | head -n1 || true)
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "sdk-compat: emulator printed no URL" >&2; cat "$log" >&2; exit 1; }
# The SDK reads DATABRICKS_* variables and ~/.databrickscfg too; isolate it from the caller's.
env -u DATABRICKS_HOST -u DATABRICKS_TOKEN -u DATABRICKS_CONFIG_PROFILE -u DATABRICKS_CLIENT_ID -u DATABRICKS_CLIENT_SECRET \
  DATABRICKS_CONFIG_FILE=/dev/null "$venv/bin/python" "$(dirname "$0")/check.py" "$url" "$token" "$oauth_id" "$oauth_secret"
