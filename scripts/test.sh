#!/usr/bin/env bash
# The project's test command (README.md and .ci/run call exactly this).
# Installs what the tests need, then runs formatting, lint and the whole test suite.
# Works on a fresh Debian machine with the Rust toolchain; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------------------
# Each peer has its own idempotent install script under scripts/install/ (a Python venv with
# scim2-server, slapd and Samba from apt, chromium from apt + playwright-core from npm); each
# skips what is already present and prints where the tests will find it.
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# PostgreSQL at 127.0.0.1:5432 (trust auth, database `test`) for the state store's story tests.
# The development and CI machines run it; start it when it is installed but stopped.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL"
  if ls /etc/postgresql >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
if command -v psql >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname = 'test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null 2>&1 || true
fi

for peer in scim ldap browser; do
  if [ -f "scripts/install/$peer.sh" ]; then
    say "test peer: $peer"
    bash "scripts/install/$peer.sh"
  fi
done

if [ ! -d ../shared/personio-openapi/v1 ]; then
  echo "note: ../shared/personio-openapi/v1 is absent: the official-spec example test will say SKIPPED"
fi

# --- checks ------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "tests"
cargo nextest run --workspace --locked --no-fail-fast "$@"
