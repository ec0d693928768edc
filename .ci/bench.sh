#!/usr/bin/env bash
# Prints the size of the browser's WebAssembly as a release ships it (.ci/wasm-size.sh; wasm-opt
# 0.116.1 is installed first when missing, a C++ build of about nine minutes), then the
# worker's figures on PostgreSQL (release build; nothing is asserted about time):
# approval commit to claim and to first step, a whole Litware run, and queue throughput with
# two workers; then a bulk eligibility check of 100,000 people in slapd against ldapsearch
# (IMLINK_BENCH_PEOPLE to change the number). PostgreSQL: IMLINK_TEST_DATABASE_URL, or else a
# throwaway cluster started here.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/bootstrap.sh --test
export PATH="$HOME/.cargo/bin:$PATH"

work=$(mktemp -d /tmp/imlink-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -f "$work/pg/data/PG_VERSION" ] && .ci/postgres.sh stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${IMLINK_TEST_DATABASE_URL:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  IMLINK_TEST_DATABASE_URL=$(.ci/postgres.sh start "$work/pg" "$port")
  export IMLINK_TEST_DATABASE_URL
fi
command -v wasm-opt >/dev/null || cargo install wasm-opt --version 0.116.1 --locked
.ci/wasm-size.sh
cargo bench -p server --bench worker
cargo bench -p server --bench scan
