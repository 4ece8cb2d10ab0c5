#!/usr/bin/env bash
# Test peers of the LDAP / Active Directory target: OpenLDAP slapd (+ ldap-utils) and a Samba AD DC,
# from Debian's packages. Idempotent: installs only what is missing. Non-interactive; the packages'
# postinst scripts do not start daemons on these machines (policy-rc.d), and the tests start their
# own throwaway instances on loopback (crates/target-ldap/tests/).
set -euo pipefail

need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v samba >/dev/null 2>&1 || [ -x /usr/sbin/samba ] || need+=(samba samba-ad-dc)
command -v samba-tool >/dev/null 2>&1 || need+=(samba-ad-dc)
# Provisioning a domain fails without this package ("Please install samba-ad-provision package").
dpkg -s samba-ad-provision >/dev/null 2>&1 || need+=(samba-ad-provision)

if [ "${#need[@]}" -eq 0 ]; then
  echo "ldap peers: slapd, ldap-utils and samba (AD DC) already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ldap peers: missing ${need[*]} and not root (no sudo): the LDAP tests will skip" >&2
    exit 0
  fi
fi
echo "ldap peers: installing ${need[*]}"
$SUDO apt-get update -qq
# slapd asks debconf questions; noninteractive takes the defaults (its own database is never used).
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  $(printf '%s\n' "${need[@]}" | sort -u)
echo "ldap peers: slapd at $(command -v slapd || echo /usr/sbin/slapd), samba at $(command -v samba || echo /usr/sbin/samba)"
