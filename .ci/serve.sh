#!/usr/bin/env bash
# Installs what is missing, builds imlink and serves it on the embedded default:
# SQLite under ./data, local sign-in with the demo accounts, on http://127.0.0.1:3000/, planning
# against the simulated lab (the article's Litware organization).
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo leptos build
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
export IMLINK_LOCAL_SIGNIN_ENABLED="${IMLINK_LOCAL_SIGNIN_ENABLED:-true}"
exec "$target_dir/debug/imlink" serve
