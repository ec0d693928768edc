#!/usr/bin/env bash
# Installs what imlink needs and is missing on a Debian/Ubuntu machine. Idempotent.
#   .ci/bootstrap.sh          build tools: Rust's wasm target, cargo-leptos, wasm-bindgen-cli
#   .ci/bootstrap.sh --test   also Node.js/npm, Chromium, PostgreSQL, OpenSSH server and the
#                             end-to-end packages
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

log() { printf '[bootstrap] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing_pkgs=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing_pkgs+=("$1"); }

need_pkg build-essential
need_pkg pkg-config
need_pkg curl
if $want_test; then
  command -v node >/dev/null && command -v npm >/dev/null || { need_pkg nodejs; need_pkg npm; }
  [ -x /usr/bin/chromium ] || need_pkg chromium
  # The ssh executor's tests start a throwaway OpenSSH server (.ci/sshd.sh).
  [ -x /usr/sbin/sshd ] || need_pkg openssh-server
  command -v ssh >/dev/null || need_pkg openssh-client
  # The LDAP directory source's tests start a throwaway OpenLDAP server (.ci/slapd.sh).
  [ -x /usr/sbin/slapd ] || need_pkg slapd
  command -v ldapsearch >/dev/null || need_pkg ldap-utils
  command -v openssl >/dev/null || need_pkg openssl
  if [ -z "${IMLINK_TEST_DATABASE_URL:-}" ]; then
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkg postgresql
  fi
fi
if [ ${#missing_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing_pkgs[*]}"
  # Keep package scripts from starting system daemons we do not want.
  created_policy=false
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    created_policy=true
  fi
  # slapd's package would otherwise build a system directory we do not use.
  echo 'slapd slapd/no_configuration boolean true' | as_root debconf-set-selections
  as_root apt-get update -q </dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing_pkgs[@]}" </dev/null
  $created_policy && as_root rm -f /usr/sbin/policy-rc.d
fi

if ! command -v cargo >/dev/null; then
  log "installing the Rust toolchain with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos 0.3.10" ]; then
  log "installing cargo-leptos 0.3.10 (takes about 15 minutes on 2 cores)"
  cargo install cargo-leptos --version 0.3.10 --locked
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]; then
  log "installing wasm-bindgen-cli $bindgen_version (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

if $want_test; then
  if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/@axe-core/playwright ]; then
    log "installing the end-to-end test packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
  if [ ! -d .ci/oidc/node_modules/oidc-provider ]; then
    log "installing the test OpenID provider (oidc-provider)"
    (cd .ci/oidc && npm ci --no-audit --no-fund)
  fi
fi
log "ready"
