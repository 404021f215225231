"""_fanout: throttled threads, per-host isolation, fail_on and connection variables."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke import _fanout
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._fanout import (
    AnsibleValueOmittedError,
    HostOutcome,
    connection_for_host,
    connection_var_options,
    run_throttled,
    tag_output,
    task_failed,
)


def test_throttle_limit_bounds_concurrency_and_keeps_order() -> None:
    lock = threading.Lock()
    running = 0
    peak = 0

    def work(name: str) -> HostOutcome:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return HostOutcome(name, "ok")

    names = [f"h{i}" for i in range(20)]
    outcomes = run_throttled(names, work, throttle_limit=4)
    assert [o.name for o in outcomes] == names
    assert 2 <= peak <= 4


def test_a_raising_host_does_not_stop_the_others() -> None:
    def work(name: str) -> HostOutcome:
        if name == "bad":
            raise RuntimeError("boom")
        return HostOutcome(name, "ok")

    outcomes = run_throttled(["a", "bad", "b"], work)
    assert [(o.name, o.status) for o in outcomes] == [("a", "ok"), ("bad", "failed"), ("b", "ok")]
    assert "boom" in (outcomes[1].msg or "")


@pytest.mark.parametrize(
    ("statuses", "fail_on", "failed"),
    [
        (["ok", "failed"], "any", True),
        (["ok", "unreachable"], "all", False),
        (["failed", "unreachable"], "all", True),
        (["failed", "failed"], "never", False),
        (["ok", "ok"], "any", False),
    ],
)
def test_fail_on(statuses: list[str], fail_on: str, failed: bool) -> None:
    outcomes = [HostOutcome(f"h{i}", s) for i, s in enumerate(statuses)]
    assert task_failed(outcomes, fail_on) is failed


def test_connection_var_options() -> None:
    host_vars = {"ansible_user": "{{ user }}", "ansible_port": 5986, "unrelated": 1}
    options = connection_var_options(
        host_vars, ["ansible_user", "ansible_port", "ansible_host"], "web01", render=lambda v: f"<{v}>"
    )
    assert options == {"ansible_user": "<{{ user }}>", "ansible_port": "<5986>", "ansible_host": "web01"}
    with_address = connection_var_options({"ansible_host": "127.0.0.5"}, ["ansible_host"], "web01")
    assert with_address == {"ansible_host": "127.0.0.5"}


def test_connection_var_options_inventory_hostname_and_omit() -> None:
    """inventory_hostname is the host's own name (not the task host's); omitted values are left out."""

    def render(value: object) -> object:
        if value == "OMIT":
            raise AnsibleValueOmittedError()
        return value

    options = connection_var_options(
        {"inventory_hostname": "dc01", "ansible_user": "OMIT", "ansible_psrp_host": "10.0.0.9"},
        ["inventory_hostname", "ansible_host", "ansible_psrp_host", "ansible_user"],
        "web01",
        render,
    )
    assert options == {"inventory_hostname": "web01", "ansible_psrp_host": "10.0.0.9"}


def test_loads_on_ansible_core_without_omitted_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-core 2.16-2.18 have no AnsibleValueOmittedError (omit templates to a placeholder
    string that TaskExecutor passes on): the module still imports and keeps such values."""
    import ansible.errors

    monkeypatch.delattr(ansible.errors, "AnsibleValueOmittedError", raising=False)
    spec = importlib.util.spec_from_file_location("_fanout_pre_219", _fanout.__file__)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, old)  # dataclasses look their module up there
    spec.loader.exec_module(old)
    assert old.AnsibleValueOmittedError is not getattr(ansible.errors, "AnsibleValueOmittedError", None)
    token = "__omit_place_holder__0123"
    options = old.connection_var_options({"ansible_user": token}, ["ansible_user"], "web01")
    assert options == {"ansible_user": token, "ansible_host": "web01"}


class _FakeConnection:
    """Stands in for a loaded connection plugin: records set_options."""

    ansible_name = "psremoting.core.psrp"
    _load_name = "ansible_collections.psremoting.core.plugins.connection.psrp"

    def __init__(self, play_context: object) -> None:
        self.play_context = play_context
        self.var_options: dict[str, object] | None = None

    def set_options(self, var_options: dict[str, object]) -> None:
        self.var_options = var_options


def test_connection_for_host_reads_vars_under_the_load_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ansible registers a collection plugin's option definitions under its _load_name (the Python
    module path); looking them up by FQCN finds nothing and the host gets no address (the bug
    that made other hosts try 'web01:5986')."""
    asked: list[str] = []

    def get_plugin_vars(plugin_type: str, name: str) -> list[str]:
        asked.append(name)
        if name != _FakeConnection._load_name:
            return []
        return ["inventory_hostname", "ansible_host", "ansible_port", "ansible_password"]

    monkeypatch.setattr(_fanout.C.config, "get_plugin_vars", get_plugin_vars)
    monkeypatch.setattr(_fanout.connection_loader, "get", lambda name, ctx, stdin: _FakeConnection(ctx))

    class Context:
        remote_addr = "dc01-address"

    template = _FakeConnection(Context())
    host_vars = {"ansible_host": "127.0.0.4", "ansible_port": 40929, "ansible_password": "pw", "other": 1}
    conn = connection_for_host(template, Context(), host_vars, "web01")
    assert asked == [_FakeConnection._load_name]
    assert conn.var_options == {
        "inventory_hostname": "web01",
        "ansible_host": "127.0.0.4",
        "ansible_port": 40929,
        "ansible_password": "pw",
    }
    assert conn.play_context.remote_addr == "127.0.0.4"
    assert template.play_context.remote_addr == "dc01-address"


def test_tag_output() -> None:
    assert tag_output([{"a": 1, "PSComputerName": "x"}, "text"], "web01") == [
        {"a": 1, "PSComputerName": "web01", "PSShowComputerName": True},
        "text",
    ]
    assert tag_output([{"a": 1, "RunspaceId": "old"}], "web01", runspace_id="r1") == [
        {"a": 1, "RunspaceId": "r1", "PSComputerName": "web01", "PSShowComputerName": True}
    ]
