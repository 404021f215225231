#!/usr/bin/env bash
# Test the collection against the oldest and the newest ansible-core line it claims to support
# (meta/runtime.yml requires_ansible, docs/connection.md), each in its own virtual environment.
#
# The project venv (.venv) has one ansible-core; this runs a focused subset against the others:
# the connection plugin unit tests, the option-table diff against that ansible-core's own
# ansible.builtin.psrp DOCUMENTATION, the action/plugin_utils unit tests that touch ansible-core
# APIs, winhost answering the module payloads that ansible-core builds itself
# (tests/winhost/tests/test_ansible_exec*.py), and winhost-backed ansible-playbook runs (raw,
# win_ping, script, put/fetch, invoke_command one-to-many, a winrm_* module in check/diff mode).
#
#   tools/version-matrix.sh                      # every entry of MATRIX below
#   PSREMOTING_MATRIX="2.20:3.12" tools/version-matrix.sh
#   tools/version-matrix.sh --build-only         # build (or reuse) the venvs, run no test
#                                                # (bench/run --core uses them; bench/README.md)
#
# MATRIX entries are <ansible-core line>:<Python>; pip installs the latest patch of the line
# (an exact version such as 2.22.0rc1 is installed as it is).
# Python versions follow each line's Requires-Python: 2.16 supports 3.10-3.12 on the controller,
# 2.21 supports 3.12-3.14 (2.20 and 2.21 need >= 3.12; 2.22, still a pre-release tested as
# 2.22.0rc1, needs >= 3.13).
# An interpreter is found as python<X.Y> on PATH or under pyenv's versions directory.
#
# Venvs live in $PSREMOTING_MATRIX_DIR (default .build/matrix), are reused while the requirement
# files and this script are unchanged, and are (re)built with pip's cache. ansible.windows (for
# win_ping, win_copy) and ansible.posix (the json callback) are copied from the project venv's
# `ansible` package when it is there, else installed with ansible-galaxy.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/tools/$(basename "$0")"
cd "$root"

BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then
    BUILD_ONLY=1
fi

MATRIX=${PSREMOTING_MATRIX:-"2.16:3.11 2.21:3.13 2.22.0rc1:3.13"}
MATRIX_DIR=${PSREMOTING_MATRIX_DIR:-$root/.build/matrix}
WORKERS=${PYTEST_WORKERS:-2}
MAIN_VENV=${PSREMOTING_MAIN_VENV:-$root/.venv}

# Test-only packages the subset needs (bounds taken from test-requirements.txt).
TEST_PACKAGES=(pytest pytest-xdist pytest-timeout pytest-ansible hypothesis psrpcore pyyaml pexpect)

UNIT_TESTS=(
    tests/unit/plugins/connection
    tests/unit/plugins/vars
    tests/unit/plugins/plugin_utils/psrp/test_options.py
    tests/unit/plugins/plugin_utils/psrp/test_rejected.py
    tests/unit/plugins/plugin_utils/psrp/test_winrm_vars.py
    tests/unit/plugins/action
    tests/unit/plugins/plugin_utils/invoke/test_fanout.py
    tests/unit/plugins/plugin_utils/psrp/test_client.py
    tests/unit/plugins/plugin_utils/psrp/test_payload.py
    tests/unit/plugins/plugin_utils/broker/test_server.py
    tests/unit/plugins/plugin_utils/psrp/test_command_line.py
    tests/unit/plugins/plugin_utils/invoke
    tests/winhost/tests/test_ansible_exec.py
    tests/winhost/tests/test_ansible_exec_compressed.py
)
PLAYBOOK_TESTS=(
    tests/integration/test_connection_winhost.py::test_raw_module_and_rc
    tests/integration/test_connection_winhost.py::test_same_results_as_builtin
    tests/integration/test_connection_winhost.py::test_script_module_runs_file_with_args
    "tests/integration/test_connection_winhost.py::test_put_and_fetch_round_trip[1024]"
    tests/integration/test_connection_winhost.py::test_persist_false_behaves_like_builtin
    tests/integration/test_connection_winhost.py::test_environment_and_location_do_not_leak_between_tasks
    tests/integration/test_connection_winhost.py::test_no_profile_option_of_ansible_core_2_21
    tests/integration/test_connection_winhost.py::test_bad_option_fails_before_connecting
    tests/integration/test_connection_bad_values.py
    tests/integration/test_invoke_command.py::test_one_to_many
    tests/integration/test_invoke_command.py::test_output_objects_and_service_methods
    tests/integration/test_winrm_modules.py::test_winrm_service_four_steps
    tests/integration/test_payload_cache.py
    tests/integration/test_connection_preload.py
)

find_python() {  # the base interpreter (not a venv's, e.g. .venv/bin on make's PATH)
    local want=$1 candidate base='import sys; print(getattr(sys, "_base_executable", sys.executable))'
    if candidate=$(command -v "python$want" 2>/dev/null) && "$candidate" -c "$base" 2>/dev/null; then
        return 0
    fi
    local pyenv_root
    pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    candidate=$(ls -d "$pyenv_root/versions/$want".*/bin/"python$want" 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$candidate" ] && "$candidate" -c "$base" 2>/dev/null
}

requirement_for() {  # "name>=x.y" from test-requirements.txt, or the bare name
    local line
    line=$(grep -i -E "^$1([<>=!~ ]|$)" test-requirements.txt | head -n 1 || true)
    echo "${line:-$1}"
}

collection_source() {  # path of ansible_collections/ansible/<name> in the project venv, if any
    ls -d "$MAIN_VENV"/lib/python*/site-packages/ansible_collections/ansible/"$1" 2>/dev/null | head -n 1 || true
}

build_venv() {
    local line=$1 python=$2 venv=$3
    local core="ansible-core==$line"
    [[ $line =~ ^[0-9]+\.[0-9]+$ ]] && core="ansible-core==$line.*"
    local specs=("$core")
    local name
    for name in "${TEST_PACKAGES[@]}"; do
        specs+=("$(requirement_for "$name")")
    done
    local stamp
    stamp=$({
        "$python" --version
        printf '%s\n' "${specs[@]}" "$(collection_source windows)" "$(collection_source posix)"
        cat requirements.txt tests/winhost/pyproject.toml "$self"
    } | sha256sum | cut -c1-16)
    if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then
        return 0
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
    local pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input)
    # ansible-core is a constraint too, so nothing the test tools pull in can move it.
    echo "$core" >"$venv/constraints.txt"
    # Without pypsrp's Kerberos extra: gssapi and krb5 have no Linux wheels and would compile for
    # minutes per interpreter; the subset below authenticates with NTLM only.
    sed 's/\[kerberos,credssp\]/[credssp]/' requirements.txt >"$venv/requirements.txt"
    "${pip[@]}" install --no-compile -c "$venv/constraints.txt" -r "$venv/requirements.txt" "${specs[@]}" -e tests/winhost \
        2> >(grep -v -E "^WARNING: Location|editable|^\s*$|\*\*\*|!!|careful|name as your|wheel_obj" >&2)
    local site
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    for name in windows posix; do
        local src
        src=$(collection_source "$name")
        if [ -n "$src" ]; then
            mkdir -p "$site/ansible_collections/ansible"
            cp -a "$src" "$site/ansible_collections/ansible/"
        else
            "$venv/bin/ansible-galaxy" collection install -p "$site" "ansible.$name" >/dev/null
        fi
    done
    echo "$stamp" >"$venv/.stamp"
}

failed=()
summary=()
for entry in $MATRIX; do
    line=${entry%%:*}
    pyver=${entry#*:}
    venv="$MATRIX_DIR/ansible-core-$line-py$pyver"
    start=$SECONDS
    if ! python=$(find_python "$pyver"); then
        echo "version-matrix: Python $pyver for ansible-core $line not found (python$pyver or pyenv)" >&2
        failed+=("$entry")
        summary+=("ansible-core $line / Python $pyver: no interpreter")
        continue
    fi
    echo "== ansible-core $line.x on Python $pyver ($venv)"
    build_venv "$line" "$python" "$venv"
    version=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
    setup=$((SECONDS - start))
    if [ "$BUILD_ONLY" -eq 1 ]; then
        summary+=("ansible-core $version / Python $pyver: built in ${setup}s ($venv)")
        continue
    fi
    log="$venv/pytest.log"
    set +e
    "$venv/bin/python" -m pytest -n "$WORKERS" -q -p no:randomly "${UNIT_TESTS[@]}" "${PLAYBOOK_TESTS[@]}" \
        2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    counts=$(tail -n 1 "$log" | sed -E 's/^=+ //; s/ =+$//')
    summary+=("ansible-core $version / Python $pyver: $counts (setup ${setup}s, total $((SECONDS - start))s)")
    if [ "$rc" -ne 0 ]; then
        failed+=("$entry")
    fi
done

echo "== version matrix"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "version-matrix: failed: ${failed[*]}" >&2
    exit 1
fi
