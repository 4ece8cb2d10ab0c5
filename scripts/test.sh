#!/usr/bin/env bash
# The project's test command (README.md and .ci/run call exactly this).
# Installs what the tests need, then runs formatting, lint and the whole test suite.
# Works on a fresh Debian machine with the Rust toolchain; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------------------
# (Later parts add: a Python venv with scim2-server, slapd/samba from apt, chromium +
# playwright-core from npm. Each install step is idempotent and skipped when present.)
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

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
