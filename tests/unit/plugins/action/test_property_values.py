"""Property test (hypothesis): random strings, numbers and unicode for every option of the WinRM
modules. Either the task is refused before any request that changes the host (a clear message
naming the host, or Ansible's own argument-spec error), or the change is made and reads back
equal: running the same task again changes nothing and reports the same settings.

Unit level, against the fake host, so hundreds of tasks run in seconds; the winhost-backed sample
is tests/integration/test_winrm_modules.py::test_random_values_on_winhost.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible.errors import AnsibleActionFail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.psremoting.core.plugins.action import (
    session_configuration,
    winrm_client,
    winrm_firewall,
    winrm_listener,
    winrm_service,
)
from ansible_collections.psremoting.core.tests.unit.plugins.action.test_winrm_fakes import (
    FakeWindows,
    run_action,
)

TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        ["*", "", " ", "10.0.0.1", "10.0.0.0/8", "1.2.3.4/99", "a,b", "x\ny", "LocalSubnet", "O:BAD:P"]
    ),
)
NUMBER = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, -1, 31, 32, 5985, 65535, 65536, 59999, 60000, 2147483647, 4294967295, 4294967296]),
)


def value_for(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = spec.get("type", "str")
    if spec.get("choices"):
        chosen = st.sampled_from(list(spec["choices"]))
        return st.lists(chosen, max_size=3) if kind == "list" else chosen
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        return NUMBER
    if kind == "list":
        inner = NUMBER if spec.get("elements") == "int" else TEXT
        return st.lists(inner, max_size=3)
    return st.one_of(TEXT, NUMBER)  # a number where text is expected: Ansible converts it


def task_args(action: Any, skip: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    spec = {
        k: v
        for k, v in action.ActionModule.ARGUMENT_SPEC.items()
        if k not in skip and v.get("type") != "dict"
    }
    options = st.fixed_dictionaries({}, optional={name: value_for(entry) for name, entry in spec.items()})
    required = {k: value_for(v) for k, v in spec.items() if v.get("required")}
    return st.tuples(st.fixed_dictionaries(required), options).map(lambda t: {**t[1], **t[0]})


CASES = [
    (winrm_service, {}, ("state", "start_mode")),  # the service state is not a stored value
    (winrm_client, {}, ()),
    (winrm_firewall, {}, ()),
    (winrm_listener, {"transport": "http"}, ("certificate_dest", "self_signed", "transport")),
    (session_configuration, {"name": "Lab"}, ("files", "content", "name")),
]


def _run(action: Any, args: dict[str, Any], host: FakeWindows) -> dict[str, Any] | None:
    """The result, or None when Ansible's argument-spec validation refused the values."""
    try:
        return run_action(action.ActionModule, args, host, options={"protocol": "https", "port": 5986})
    except AnsibleActionFail:
        return None


@pytest.mark.parametrize(
    ("action", "fixed", "skip"), CASES, ids=[c[0].__name__.rsplit(".", 1)[-1] for c in CASES]
)
def test_random_values_are_refused_cleanly_or_read_back_equal(
    action: Any, fixed: dict[str, Any], skip: tuple[str, ...]
) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(task_args(action, skip))
    def check(random_args: dict[str, Any]) -> None:
        args = {**random_args, **fixed}
        host = FakeWindows()
        first = _run(action, copy.deepcopy(args), host)
        if first is None or first.get("failed"):
            assert host.changes() == [], f"refused, but the host was changed: {host.changes()}"
            if first is not None:
                assert first["msg"].startswith("web01"), first["msg"]
            return
        host.log.clear()
        again = _run(action, copy.deepcopy(args), host)
        assert again is not None and not again.get("failed"), again
        assert again["changed"] is False, f"the change did not read back equal: {args} -> {again}"
        assert host.changes() == []
        for key in ("settings", "rules"):  # listener and session reports add host-filled values
            if key in first:
                assert again[key] == first[key], key

    check()
