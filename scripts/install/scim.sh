#!/usr/bin/env bash
# Test peer of the SCIM target: scim2-server (PyPI, python-scim project) in a venv under
# .peers/scim-venv. Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.peers/scim-venv
version=0.8.3
if [ -x "$venv/bin/scim2-server" ] && "$venv/bin/pip" show scim2-server 2>/dev/null | grep -q "^Version: $version$"; then
  echo "scim peer: scim2-server $version already in $venv"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "scim2-server==$version"
echo "scim peer: scim2-server $version installed in $venv"
