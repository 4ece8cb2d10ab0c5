#!/usr/bin/env bash
# Installs what the dashboard's browser test needs: Debian's chromium and playwright-core
# (pinned in crates/dashboard/tests/browser/package.json). Idempotent; never downloads a browser build.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then apt=(apt-get); else apt=(sudo apt-get); fi
    export DEBIAN_FRONTEND=noninteractive
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq chromium
fi

dir=crates/dashboard/tests/browser
if [ ! -d "$dir/node_modules/playwright-core" ]; then
    (cd "$dir" && npm install --no-audit --no-fund)
fi
