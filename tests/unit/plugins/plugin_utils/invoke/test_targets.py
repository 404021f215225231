"""_targets: each one-to-many target's psrp settings from its own host variables."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.invoke import _targets
from ansible_collections.psremoting.core.plugins.plugin_utils.invoke._targets import (
    AnsibleValueOmittedError,
    TargetReader,
    connection_var_options,
)

PSRP = "psremoting.core.psrp"


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
    spec = importlib.util.spec_from_file_location("_targets_pre_219", _targets.__file__)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, old)  # dataclasses look their module up there
    spec.loader.exec_module(old)
    assert old.AnsibleValueOmittedError is not getattr(ansible.errors, "AnsibleValueOmittedError", None)
    token = "__omit_place_holder__0123"
    options = old.connection_var_options({"ansible_user": token}, ["ansible_user"], "web01")
    assert options == {"ansible_user": token, "ansible_host": "web01"}


def test_target_reader_uses_each_hosts_own_variables() -> None:
    account = {"ansible_user": "vagrant", "ansible_password": "pw", "ansible_psrp_auth": "ntlm"}
    hostvars: dict[str, Any] = {
        "dc01": {"ansible_connection": PSRP, "ansible_host": "127.0.0.2", "ansible_port": 45986, **account},
        "web01": {"ansible_connection": PSRP, "ansible_psrp_protocol": "http",
                  "ansible_psrp_session_persist": False, **account},
        "ssh01": {"ansible_connection": "ansible.builtin.ssh"},
        "plain": {"ansible_host": "10.0.0.7"},
        "badport": {"ansible_connection": PSRP, "ansible_port": "fifty", **account},
    }  # fmt: skip
    reader = TargetReader(hostvars)
    dc01 = reader.read("dc01").settings
    assert dc01 is not None
    assert (dc01.host, dc01.port, dc01.protocol, dc01.user, dc01.auth) == (
        "127.0.0.2",
        45986,
        "https",
        "vagrant",
        "ntlm",
    )
    assert dc01.wsman_kwargs["password"] == "pw" and dc01.session.persist
    web01 = reader.read("web01").settings
    assert web01 is not None
    assert (web01.host, web01.port, web01.protocol, web01.session.persist) == ("web01", 5985, "http", False)

    ssh = reader.read("ssh01")
    assert ssh.settings is None and ssh.status == "failed"
    assert (
        ssh.problem is not None
        and "'ansible.builtin.ssh'" in ssh.problem
        and f"ansible_connection={PSRP}" in ssh.problem
    )
    plain = reader.read("plain")  # no ansible_connection: Ansible's default transport (ssh)
    assert plain.problem is not None and "'ssh'" in plain.problem
    missing = reader.read("nosuchhost")
    assert (missing.status, missing.problem) == ("unreachable", "nosuchhost is not in the inventory")
    bad = reader.read("badport")
    assert bad.settings is None and bad.problem is not None
    assert "badport" in bad.problem and "port" in bad.problem and "fifty" in bad.problem
    assert "pw" not in bad.problem


def test_target_reader_reads_a_winrm_inventory_like_the_connection() -> None:
    """A host moved from ansible.builtin.winrm by changing only ansible_connection: its
    ansible_winrm_* variables reach the target's settings as they reach a task's connection
    (address, port, scheme, transport translated to auth); ansible_psrp_* wins."""
    hostvars: dict[str, Any] = {
        "w1": {
            "ansible_connection": PSRP,
            "ansible_winrm_host": "127.0.0.9",
            "ansible_winrm_port": 5985,
            "ansible_winrm_scheme": "http",
            "ansible_winrm_transport": "ntlm",
            "ansible_user": "vagrant",
            "ansible_password": "pw",
        },
        "w2": {
            "ansible_connection": PSRP,
            "ansible_winrm_port": 5985,
            "ansible_psrp_port": 45985,
            "ansible_psrp_protocol": "http",
            "ansible_winrm_transport": "ntlm",
            "ansible_user": "vagrant",
            "ansible_password": "pw",
        },
    }
    reader = TargetReader(hostvars)
    w1 = reader.read("w1").settings
    assert w1 is not None, reader.read("w1").problem
    assert (w1.host, w1.port, w1.protocol, w1.auth) == ("127.0.0.9", 5985, "http", "ntlm")
    w2 = reader.read("w2").settings
    assert w2 is not None and (w2.host, w2.port) == ("w2", 45985)


def test_a_value_ansible_core_refuses_is_a_problem_naming_host_variable_and_fix() -> None:
    """ConfigManager refuses a type or a choice before our checks run: the target's problem is the
    connection's message (psrp/_rejected.py), never ansible-core's, and shows no password."""
    account = {"ansible_connection": PSRP, "ansible_user": "vagrant", "ansible_password": "pw-77c1"}
    hostvars: dict[str, Any] = {
        "scheme": {**account, "ansible_winrm_scheme": "ftp"},
        "pwlist": {**account, "ansible_password": ["pw-77c1"]},
    }
    reader = TargetReader(hostvars)
    scheme = reader.read("scheme")
    assert scheme.settings is None and scheme.status == "failed"
    assert scheme.problem == (
        "psrp connection to 'scheme': option 'protocol' (variable ansible_winrm_scheme) must be one of "
        "http, https, got 'ftp'; set ansible_winrm_scheme to one of these"
    )
    pwlist = reader.read("pwlist").problem
    assert pwlist is not None and "(variable ansible_password) must be a string" in pwlist
    assert "pw-77c1" not in pwlist
