#!/usr/bin/env bash
# The project's test command (README "Test"): formatting, lints, the whole workspace's tests on
# SQLite and PostgreSQL, and the official Databricks SDK against the emulator.
# Starts the local PostgreSQL cluster if it is installed but not running.
set -euo pipefail
cd "$(dirname "$0")/.."

export POLYSYNC_TEST_DATABASE_URL=${POLYSYNC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

ensure_postgres() {
  command -v pg_isready >/dev/null || { echo "test: pg_isready not found; PostgreSQL tests need a server at $POLYSYNC_TEST_DATABASE_URL" >&2; return 0; }
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  if command -v pg_ctlcluster >/dev/null; then
    echo "test: starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.2; done
  fi
  echo "test: PostgreSQL is not reachable at 127.0.0.1:5432" >&2
  return 1
}

# Dashboard browser test (crates/cli/tests/dashboard/, against `polysync up`): Debian's chromium + chromedriver.
ensure_chromium() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "test: chromium/chromedriver missing and not root: run apt-get install -y chromium chromium-driver" >&2
    return 1
  fi
  echo "test: installing chromium and chromium-driver (dashboard browser test)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
ensure_postgres
ensure_chromium
echo "== cargo build"
cargo build --workspace --quiet
echo "== cargo test (POLYSYNC_TEST_DATABASE_URL=$POLYSYNC_TEST_DATABASE_URL)"
cargo test --workspace --quiet --no-fail-fast 2>&1 | tee target/test-output.txt
echo "== official Databricks SDK against the emulator"
scripts/sdk-compat/check.sh
echo "== schemathesis: the live server against its own /openapi.json"
scripts/schemathesis/check.sh
