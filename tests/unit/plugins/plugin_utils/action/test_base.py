"""The action base: one connection check, and the transport/port the play uses resolved exactly as
ansible.builtin.psrp resolves them (its ``_build_kwargs``), not by a mapping of our own."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
    ConnectionFacts,
    connection_facts,
    require_pipeline,
)

CASES = [
    (None, None),
    (None, 80),
    (None, 443),
    (None, 5985),
    (None, 5986),
    (None, 8080),
    ("http", None),
    ("https", None),
    ("http", 80),
    ("https", 5985),
    ("http", 15985),
]


class _Options:
    """A connection as the action sees it: ``get_option`` with KeyError for options it lacks."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get_option(self, name: str) -> Any:
        if name not in self.values:
            raise KeyError(name)
        return self.values[name]


def _builtin(protocol: str | None, port: int | None) -> tuple[str, int]:
    conn: Any = connection_loader.get("ansible.builtin.psrp", PlayContext(), None)
    options: dict[str, Any] = {"remote_addr": "web01", "remote_user": "admin", "remote_password": "x"}
    if protocol is not None:
        options["protocol"] = protocol
    if port is not None:
        options["port"] = port
    conn.set_options(direct=options)
    conn._build_kwargs()
    return ("https" if conn._psrp_conn_kwargs["ssl"] else "http"), conn._psrp_port


@pytest.mark.parametrize(("protocol", "port"), CASES)
def test_transport_and_port_follow_ansible_builtin_psrp(protocol: str | None, port: int | None) -> None:
    values: dict[str, Any] = {"remote_addr": "web01", "remote_user": "admin", "remote_password": "x"}
    if protocol is not None:
        values["protocol"] = protocol
    if port is not None:
        values["port"] = port
    facts = connection_facts(_Options(values), "web01")
    assert (facts.transport, facts.port) == _builtin(protocol, port)


def test_port_80_is_https_like_the_builtin() -> None:
    """The old action mapping took port 80 for http; the builtin (and the connection) use https."""
    facts = connection_facts(_Options({"remote_addr": "web01", "remote_user": "a", "port": 80}), "web01")
    assert facts == ConnectionFacts("https", 80, "negotiate", "web01", "Microsoft.PowerShell")


def test_one_connection_check_names_host_module_and_plugin() -> None:
    class Ssh:
        _load_name = "ssh"

    with pytest.raises(AnsibleActionFail) as exc:
        require_pipeline(Ssh(), "web01", "winrm_info")
    assert str(exc.value).startswith("web01: winrm_info needs the psremoting.core.psrp connection plugin")
    assert "'ssh'" in str(exc.value)


def test_every_module_action_is_a_module_action() -> None:
    """One base for every action of the collection (issue 16): no parallel base classes."""
    import importlib
    from pathlib import Path

    from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import ModuleAction

    actions = Path(__file__).resolve().parents[5] / "plugins" / "action"
    names = sorted(p.stem for p in actions.glob("*.py") if not p.stem.startswith("_"))
    assert len(names) >= 10, names
    for name in names:
        module = importlib.import_module(f"ansible_collections.psremoting.core.plugins.action.{name}")
        cls = module.ActionModule
        assert issubclass(cls, ModuleAction), name
        assert name == cls.MODULE, name
        # no action re-implements the steps of the base
        assert "run" not in vars(cls), f"{name} overrides run()"


def test_connection_settings_are_read_once_per_task() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import TaskContext

    reads: list[int] = []
    opts = _Options({"remote_addr": "web01", "remote_user": "a", "port": 5985})

    def read() -> Any:
        from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import (
            connection_settings,
        )

        reads.append(1)
        return connection_settings(opts, "web01")

    context = TaskContext(host="web01", check_mode=False, diff=False, read=read)
    assert reads == []  # nothing read until an action needs it (winrm_endpoint_check never does)
    assert (context.connection.transport, context.connection.port) == ("http", 5985)
    assert context.settings.user == "a"
    assert reads == [1]
