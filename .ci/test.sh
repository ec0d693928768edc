#!/usr/bin/env bash
# Installs what is missing and runs every check and test: formatting, lints, unit and
# integration tests (SQLite and PostgreSQL), then the browser tests against a running portal.
# PostgreSQL: IMLINK_TEST_DATABASE_URL, or else a throwaway cluster started here.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/bootstrap.sh --test
export PATH="$HOME/.cargo/bin:$PATH"

work=$(mktemp -d /tmp/imlink-test.XXXXXX)
# The throwaway PostgreSQL runs as the postgres user, which must reach its folder inside.
chmod 755 "$work"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -f "$work/pg/data/PG_VERSION" ] && .ci/postgres.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== formatting"
cargo fmt --all --check
echo "== lints"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p app --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

if [ -z "${IMLINK_TEST_DATABASE_URL:-}" ]; then
  echo "== starting a throwaway PostgreSQL"
  IMLINK_TEST_DATABASE_URL=$(.ci/postgres.sh start "$work/pg" "$(free_port)")
  export IMLINK_TEST_DATABASE_URL
fi
echo "== unit and integration tests (SQLite and PostgreSQL at ${IMLINK_TEST_DATABASE_URL%%@*}@…)"
cargo test --workspace 2>&1 | tee "$work/cargo-test.log"
rust_passed=$(grep -o 'test result: ok\. [0-9]* passed' "$work/cargo-test.log" | awk '{ n += $4 } END { print n + 0 }')

echo "== building the portal"
cargo leptos build
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "== end-to-end tests in Chromium"
port=$(free_port)
IMLINK_LISTEN="127.0.0.1:$port" IMLINK_DATA_DIR="$work/data" IMLINK_LOCAL_SIGNIN_ENABLED=true \
  LEPTOS_SITE_ROOT=target/site "$target_dir/debug/imlink" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
if ! (cd end2end && IMLINK_E2E_URL="http://127.0.0.1:$port" IMLINK_E2E_DB="$work/data/imlink.db" npm test) 2>&1 | tee "$work/e2e.log"; then
  echo "---- server log"; tail -n 80 "$work/server.log"
  exit 1
fi
e2e_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$work/e2e.log" | tail -n 1 | cut -d' ' -f1)
echo "== all checks passed (Rust tests: $rust_passed, browser tests: ${e2e_passed:-0})"
echo "summary: $((rust_passed + ${e2e_passed:-0})) passed, 0 failed"
