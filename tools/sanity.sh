#!/usr/bin/env bash
# Runs `ansible-test sanity` on the collection. ansible-test needs the collection at a real
# .../ansible_collections/psremoting/core directory (it resolves symlinks), so the shipped content
# (what `git ls-files` lists, minus development-only trees excluded from the build) is copied there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.build/sanity/ansible_collections/psremoting/core"
rm -rf "$root/.build/sanity"
mkdir -p "$dest"
cd "$root"
git ls-files --cached --others --exclude-standard \
    | grep -v -E '^(tests/winhost|tests/integration|tests/conformance|bench|tools|\.ci)/' \
    | while read -r f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$dest"
cd "$dest"
# ansible-test lists files with git: give the copy its own repository (the checkout ignores .build/).
git init -q . && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# Seed ansible-test's pip bootstrap cache (see tools/get_pip_shim.py for why).
pip_version=$(python -c 'import ansible_test._internal.python_requirements as r, inspect, re; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))')
mkdir -p ~/.ansible/test/cache
# ansible-test runs it with a stripped environment: carry the CA bundle pip was told to use.
ca_bundle=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
{
    echo "import os"
    [ -n "$ca_bundle" ] && echo "os.environ.setdefault('PIP_CERT', '$ca_bundle')"
    echo "exec(compile(open('$root/tools/get_pip_shim.py').read(), 'get_pip_shim.py', 'exec'))"
} > ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --color no --python "$python_version" --requirements \
    --skip-test pylint --skip-test pslint "$@"
# pylint: ruff covers it (make lint). pslint: needs PowerShell (pwsh), which this platform lacks;
# tools/check_ps1.py parses every .ps1 instead.
