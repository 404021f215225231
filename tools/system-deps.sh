#!/usr/bin/env bash
# Installs the Debian packages the test suite and the Kerberos extras need (see bindep.txt).
# As root with apt-get: installs what is missing. Otherwise: says what is missing and carries on
# (the Kerberos tests then skip with that reason).
set -euo pipefail
packages=(gcc python3-dev libkrb5-dev krb5-user krb5-kdc krb5-admin-server)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "system-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]} (not root or no apt-get); install them with your package manager" >&2
fi
