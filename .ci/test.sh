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
oidc_server_pid=""
provider_pid=""
cleanup() {
  local rc=$?
  for pid in $server_pid $oidc_server_pid $provider_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -f "$work/pg/data/PG_VERSION" ]; then .ci/postgres.sh stop "$work/pg" || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# Waits until URL answers, failing with LOG when process PID has stopped.
wait_for() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 1 100); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.2
  done
}
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
wait_for "http://127.0.0.1:$port/readyz" "$server_pid" "$work/server.log"
# A second portal that signs in through a real OpenID provider (oidc-provider, on loopback).
provider_port=$(free_port)
oidc_port=$(free_port)
OIDC_PORT=$provider_port OIDC_REDIRECT_URIS="http://127.0.0.1:$oidc_port/auth/oidc/callback" \
  OIDC_POST_LOGOUT_URIS="http://127.0.0.1:$oidc_port/signin" \
  node .ci/oidc/server.mjs >"$work/provider.log" 2>&1 &
provider_pid=$!
printf 'imlink-test-secret\n' >"$work/oidc-secret"
wait_for "http://127.0.0.1:$provider_port/.well-known/openid-configuration" "$provider_pid" "$work/provider.log"
IMLINK_LISTEN="127.0.0.1:$oidc_port" IMLINK_DATA_DIR="$work/data-oidc" \
  IMLINK_OIDC_ENABLED=true IMLINK_OIDC_NAME="Test Provider" \
  IMLINK_OIDC_ISSUER_URL="http://127.0.0.1:$provider_port" IMLINK_OIDC_CLIENT_ID=imlink \
  IMLINK_OIDC_CLIENT_SECRET_FILE="$work/oidc-secret" \
  IMLINK_OIDC_REDIRECT_URL="http://127.0.0.1:$oidc_port/auth/oidc/callback" \
  IMLINK_OIDC_SCOPES="openid,profile,email,groups" IMLINK_OIDC_END_SESSION=true \
  IMLINK_OIDC_ROLES_APPROVER=imlink-approvers IMLINK_OIDC_ROLES_ADMIN=imlink-admins \
  IMLINK_OIDC_ROLES_REQUESTER=imlink-requesters \
  LEPTOS_SITE_ROOT=target/site "$target_dir/debug/imlink" serve >"$work/server-oidc.log" 2>&1 &
oidc_server_pid=$!
wait_for "http://127.0.0.1:$oidc_port/readyz" "$oidc_server_pid" "$work/server-oidc.log"
if ! (cd end2end && IMLINK_E2E_URL="http://127.0.0.1:$port" IMLINK_E2E_DB="$work/data/imlink.db" \
  IMLINK_E2E_OIDC_URL="http://127.0.0.1:$oidc_port" npm test) 2>&1 | tee "$work/e2e.log"; then
  echo "---- server log"; tail -n 80 "$work/server.log"
  echo "---- server log (OpenID Connect)"; tail -n 40 "$work/server-oidc.log"
  exit 1
fi
e2e_passed=$(grep -oE '^[0-9]+ passed, 0 failed' "$work/e2e.log" | tail -n 1 | cut -d' ' -f1)
echo "== all checks passed (Rust tests: $rust_passed, browser tests: ${e2e_passed:-0})"
echo "summary: $((rust_passed + ${e2e_passed:-0})) passed, 0 failed"
