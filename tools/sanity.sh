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
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --color no --python "$python_version" --requirements \
    --skip-test pylint --skip-test mypy "$@"
