#!/usr/bin/env bash
# Run ansible-core's own integration target for the psrp connection plugin
# (test/integration/targets/connection_psrp, with the shared `connection` target it calls) against
# a simulated Windows host (winhost), with its assertions untouched, for ansible.builtin.psrp and
# for psremoting.core.psrp. The target comes from the ansible-core sdist of the version installed
# in the venv (pip download --no-binary :all:), is unpacked under .build/ansible-core-target and run
# the way ansible-test runs a script target: runme.sh from the target directory, OUTPUT_DIR set,
# test/integration/inventory.winrm naming the host, `python.py` on PATH.
#
#   tools/ansible-core-psrp-target.sh                # both plugins
#   tools/ansible-core-psrp-target.sh builtin        # one of: builtin, psremoting
#
# Exit status: 0 when, for every plugin, the shared `connection` target passed and exactly the
# tasks of tests.yml listed in tools/ansible-core-psrp-known-failures.txt (winhost gaps) failed;
# PSREMOTING_CORE_TARGET_KNOWN="" expects no failure at all.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
bindir=$(dirname "$python")
work=${PSREMOTING_CORE_TARGET_DIR:-$root/.build/ansible-core-target}
plugins=("${@:-builtin psremoting}")
read -r -a plugins <<<"${plugins[*]}"

version=$("$python" -c 'from ansible.release import __version__; print(__version__)')
src="$work/ansible_core-$version"
mkdir -p "$work"
if [ ! -d "$src/test/integration/targets/connection_psrp" ]; then
    "$python" -m pip download --quiet --no-deps --no-binary :all: "ansible-core==$version" -d "$work" >&2
    tar -xzf "$work/ansible_core-$version.tar.gz" -C "$work"
fi

# winhost: one host prepared for Ansible (HTTPS listener, as the target expects psrp over 5986)
state=$(mktemp -d "$work/winhost.XXXXXX")
# on the Windows ports 5985/5986 (tests.yml connects to both), on a loopback address of its own
"$python" -m winhost.cli serve --hosts win01 --preset configured --inventory "$state/winhost.yml" \
    --windows-ports --base-address "${PSREMOTING_CORE_TARGET_ADDRESS:-127.0.23.1}" >"$state/serve.log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 1 120); do
    [ -s "$state/winhost.yml" ] && break
    sleep 0.5
done
host_vars=$("$python" - "$state/winhost.yml" <<'EOF'
import sys, yaml
inv = yaml.safe_load(open(sys.argv[1]))
name, hv = next(iter(inv["all"]["children"]["windows"]["hosts"].items()))
print(f"{name} ansible_host={hv['ansible_host']} ansible_port=5986 "
      f"ansible_user={hv['ansible_user']} ansible_password={hv['ansible_password']} ansible_connection=psrp")
EOF
)
printf '[windows]\n%s\n' "$host_vars" >"$src/test/integration/inventory.winrm"

# ansible-test puts a python.py on PATH for the targets
shim="$state/bin"
mkdir -p "$shim"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$python" >"$shim/python.py"
chmod +x "$shim/python.py"

export PATH="$shim:$bindir:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.build"
export ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export PSREMOTING_CORE_TARGET_KNOWN="${PSREMOTING_CORE_TARGET_KNOWN-$root/tools/ansible-core-psrp-known-failures.txt}"
status=0
for plugin in "${plugins[@]}"; do
    extra=()
    out="$state/output-$plugin"
    mkdir -p "$out"
    log="$work/connection_psrp-$plugin.log"
    echo "== ansible-core $version connection_psrp target with $plugin (log: $log)"
    target="$src/test/integration/targets/connection_psrp"
    {
        # runme.sh's steps, each run even when an earlier one failed, so that every failure shows
        (cd "$target" && ansible -i ../../inventory.winrm localhost -m template \
            -a "src=test_connection.inventory.j2 dest=$out/test_connection.inventory" "${extra[@]}")
        # the target's inventory names the builtin (ansible_connection=psrp); for our plugin only
        # that value changes, nothing in the tests
        if [ "$plugin" = psremoting ]; then
            sed -i 's/^ansible_connection=psrp$/ansible_connection=psremoting.core.psrp/' "$out/test_connection.inventory"
            grep -q '^ansible_connection=psremoting.core.psrp$' "$out/test_connection.inventory"
        fi
        (cd "$target/../connection" && INVENTORY="$out/test_connection.inventory" ./test.sh \
            -e target_hosts=windows -e action_prefix=win_ -e local_tmp=/tmp/ansible-local \
            -e remote_tmp=c:/windows/temp/ansible-remote "${extra[@]}")
        echo "CONNECTION TARGET EXIT $?"
    } >"$log" 2>&1
    grep -E "CONNECTION TARGET EXIT|^fatal|FAILURE" "$log"
    [ "$(grep -c 'CONNECTION TARGET EXIT 0' "$log")" -eq 1 ] || status=1
    # tests.yml: a failed task ends the play, so start again after it until the end
    "$python" "$root/tools/_step_through.py" "$target" "$out/test_connection.inventory" "$log" "${extra[@]}" || status=1
    echo "== $plugin done"
done
exit "$status"
