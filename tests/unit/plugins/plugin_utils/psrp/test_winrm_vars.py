"""ansible.builtin.winrm inventories on psremoting.core.psrp: every ansible_winrm_* variable of the
installed ansible-core's winrm plugin is mapped, translated or ignored (with a reason), and the
translations do what that plugin does (its _build_winrm_kwargs and _winrm_connect)."""

from __future__ import annotations

import importlib
from inspect import getfullargspec
from typing import Any

import pytest
from ansible.parsing.plugin_docs import read_docstring
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _winrm_vars
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    OptionError,
    read_plugin_settings,
    read_settings,
)

# ansible-core's winrm plugin passes ansible_winrm_<arg> through to pywinrm's Protocol for every
# Protocol.__init__ argument except these (winrm.py, _build_winrm_kwargs: internal_kwarg_mask).
INTERNAL_KWARG_MASK = {
    "self",
    "endpoint",
    "transport",
    "username",
    "password",
    "scheme",
    "path",
    "kinit_mode",
    "kinit_cmd",
}


def builtin_winrm_variables() -> set[str]:
    module = importlib.import_module("ansible.plugins.connection.winrm")
    assert module.__file__
    doc = read_docstring(module.__file__)["doc"]
    names = {v["name"] for spec in doc["options"].values() for v in spec.get("vars", [])}
    names = {n for n in names if n.startswith("ansible_winrm_")}
    protocol = pytest.importorskip("winrm.protocol", reason="pywinrm is in test-requirements.txt").Protocol
    names |= {
        f"ansible_winrm_{arg}"
        for arg in getfullargspec(protocol.__init__).args
        if arg not in INTERNAL_KWARG_MASK
    }
    return names


def test_every_winrm_variable_is_mapped_or_ignored() -> None:
    known = set(_winrm_vars.SAME) | set(_winrm_vars.DERIVED) | set(_winrm_vars.IGNORED)
    missing = sorted(builtin_winrm_variables() - known)
    assert not missing, f"ansible_winrm_* variables neither mapped nor listed as ignored: {missing}"
    overlap = (set(_winrm_vars.SAME) & set(_winrm_vars.IGNORED)) | (
        set(_winrm_vars.DERIVED) & set(_winrm_vars.IGNORED)
    )
    assert not overlap
    assert all(reason.strip() for reason in _winrm_vars.IGNORED.values())


@pytest.fixture(scope="module")
def documented() -> dict[str, dict[str, Any]]:
    from pathlib import Path

    from ansible.plugins.loader import fragment_loader
    from ansible.utils.plugin_docs import get_docstring

    path = Path(__file__).resolve().parents[5] / "plugins" / "connection" / "psrp.py"
    doc = get_docstring(
        str(path), fragment_loader, collection_name="psremoting.core", plugin_type="connection"
    )[0]
    return dict(doc["options"])


def test_same_variables_come_before_the_psrp_ones(documented: dict[str, dict[str, Any]]) -> None:
    """Ansible takes the last defined variable of an option's list: ansible_psrp_* must come last."""
    for var, option in _winrm_vars.SAME.items():
        names = [v["name"] for v in documented[option]["vars"]]
        assert var in names, f"{var} is not a variable of {option}"
        psrp = [i for i, n in enumerate(names) if n.startswith("ansible_psrp_")]
        assert not psrp or names.index(var) < min(psrp), f"{option}: {var} must come before {names}"
    for var, (option, _) in _winrm_vars.DERIVED.items():
        assert [v["name"] for v in documented[option]["vars"]] == [var]
        assert option in OPTION_TABLE
    all_vars = {v["name"] for spec in documented.values() for v in spec.get("vars", [])}
    assert not set(_winrm_vars.IGNORED) & all_vars, "ignored variables must reach the plugin as _extras"


def _getter(values: dict[str, Any]) -> Any:
    base = {name: spec[1] for name, spec in OPTION_TABLE.items()}
    base.update(remote_addr="win1.example.test", remote_user="admin", remote_password="pw")
    base.update(values)
    return base.__getitem__


def _origins(**origins: str) -> Any:
    return lambda name: origins.get(name, "default")


@pytest.mark.parametrize(
    ("transport", "port", "expected"),
    [
        # (ansible_winrm_transport, port) -> (auth, message_encryption, protocol) as pywinrm does it
        (["ntlm"], 5985, ("ntlm", "auto", "http")),
        (["kerberos"], 5986, ("kerberos", "auto", "https")),
        (["credssp"], 5986, ("credssp", "auto", "https")),
        (["ssl"], 5986, ("basic", "auto", "https")),  # Basic over HTTPS
        (["plaintext"], 5985, ("basic", "never", "http")),  # Basic over HTTP, nothing encrypted
        ("basic", 5986, ("basic", "auto", "https")),
        ("ntlm,kerberos", 5985, ("ntlm", "auto", "http")),  # a list: the first
    ],
)
def test_transport_translation(transport: Any, port: int, expected: tuple[str, str, str]) -> None:
    s = read_settings(
        _getter({"winrm_transport": transport, "port": port}),
        origin_of=_origins(auth="default"),
    )
    assert (s.auth, s.wsman_kwargs["encryption"], s.protocol) == expected


def test_transport_list_notes_the_choice() -> None:
    s = read_settings(_getter({"winrm_transport": ["kerberos", "ntlm"]}))
    assert any("uses one authentication, the first (kerberos)" in n for n in s.notes)


def test_psrp_auth_wins_over_the_transport() -> None:
    s = read_settings(
        _getter({"winrm_transport": ["plaintext"], "auth": "ntlm"}),
        origin_of=_origins(auth="var: ansible_psrp_auth"),
    )
    assert (s.auth, s.wsman_kwargs["encryption"]) == ("ntlm", "auto")


def test_unknown_transport_is_refused_with_the_fix() -> None:
    with pytest.raises(
        OptionError, match=r"ansible_winrm_transport.*unknown transport\(s\) digest.*ansible_psrp_auth"
    ):
        read_settings(_getter({"winrm_transport": ["digest"]}))


@pytest.mark.parametrize(
    ("option", "variable", "value", "problem"),
    [
        (
            "read_timeout",
            "ansible_winrm_read_timeout_sec",
            -3,
            "must be a positive number of seconds, got -3",
        ),
        ("operation_timeout", "ansible_winrm_operation_timeout_sec", "abc", "must be an integer, got 'abc'"),
        ("protocol", "ansible_winrm_scheme", "ftp", "must be one of http, https, got 'ftp'"),
    ],
)
def test_errors_name_the_variable_the_inventory_set(
    option: str, variable: str, value: Any, problem: str
) -> None:
    """A winrm inventory's bad value is reported under the ansible_winrm_* variable it wrote (the
    option's origin), not under the ansible_psrp_* one it never set; without an origin, the table's."""
    with pytest.raises(OptionError) as info:
        read_settings(_getter({option: value}), origin_of=_origins(**{option: f"var: {variable}"}))
    assert (
        f"psrp connection to 'win1.example.test': option '{option}' (variable {variable}) {problem}"
        in str(info.value)
    )
    with pytest.raises(OptionError) as info:
        read_settings(_getter({option: value}))
    assert f"(variable {OPTION_TABLE[option][3]}) {problem}" in str(info.value)


def test_connection_timeout_sets_operation_and_read_timeouts_like_the_winrm_plugin() -> None:
    s = read_settings(_getter({"winrm_connection_timeout": 45}))
    assert (s.wsman_kwargs["operation_timeout"], s.wsman_kwargs["read_timeout"]) == (45, 55)
    s = read_settings(
        _getter({"winrm_connection_timeout": 45, "read_timeout": 120}),
        origin_of=_origins(read_timeout="var: ansible_psrp_read_timeout"),
    )
    assert (s.wsman_kwargs["operation_timeout"], s.wsman_kwargs["read_timeout"]) == (45, 120)


@pytest.mark.parametrize(
    ("value", "proxy", "no_proxy"),
    [
        ("http://proxy:3128", "http://proxy:3128", False),
        ("legacy_requests", None, False),
    ],
)
def test_proxy_translation(value: str, proxy: Any, no_proxy: bool) -> None:
    s = read_settings(_getter({"winrm_proxy": value}))
    assert (s.wsman_kwargs["proxy"], s.wsman_kwargs["no_proxy"]) == (proxy, no_proxy)


def test_ignored_extras_are_noted_with_their_reason() -> None:
    s = read_settings(
        _getter({}), extras={"ansible_winrm_kinit_mode": "managed", "ansible_winrm_nonsense": 1}
    )
    assert any("ansible_winrm_kinit_mode is accepted and ignored: with a password" in n for n in s.notes)
    assert any("ansible_winrm_nonsense is accepted and ignored" in n for n in s.notes)


def _plugin(variables: dict[str, Any]) -> Any:
    """The real plugin with options set from inventory variables, as TaskExecutor sets them
    (``_resolve_option_variables`` is ansible-core 2.17+; 2.16's TaskExecutor does the same inline)."""
    conn = connection_loader.get("psremoting.core.psrp", PlayContext(), None)
    if hasattr(conn, "_resolve_option_variables"):
        var_options = conn._resolve_option_variables(variables, templar=_Templar())
    else:
        from ansible import constants as C

        names = C.config.get_plugin_vars("connection", conn._load_name)
        var_options = {k: v for k, v in variables.items() if k in names}
        var_options["_extras"] = {
            k: v for k, v in variables.items() if k.startswith("ansible_winrm_") and k not in names
        }
    conn.set_options(var_options=var_options)
    return conn


class _Templar:
    def template(self, value: Any) -> Any:
        return value


WINRM_INVENTORY = {
    "ansible_host": "win1.example.test",
    "ansible_user": "admin",
    "ansible_password": "pw",
    "ansible_port": 5985,
    "ansible_winrm_scheme": "http",
    "ansible_winrm_transport": ["ntlm"],
    "ansible_winrm_server_cert_validation": "ignore",
    "ansible_winrm_message_encryption": "always",
    "ansible_winrm_kerberos_hostname_override": "win1.corp.test",
    "ansible_winrm_connection_timeout": 40,
    "ansible_winrm_kinit_mode": "managed",
}


def test_a_winrm_inventory_configures_the_plugin() -> None:
    s = read_plugin_settings(_plugin(WINRM_INVENTORY))
    kw = s.wsman_kwargs
    assert (s.protocol, s.port, s.auth) == ("http", 5985, "ntlm")
    assert kw["cert_validation"] is False and kw["encryption"] == "always"
    assert kw["negotiate_hostname_override"] == "win1.corp.test"
    assert (kw["operation_timeout"], kw["read_timeout"]) == (40, 50)
    assert any("ansible_winrm_kinit_mode is accepted and ignored" in n for n in s.notes)


def test_psrp_variables_win_where_both_are_set() -> None:
    variables = dict(
        WINRM_INVENTORY,
        ansible_psrp_protocol="https",
        ansible_psrp_auth="kerberos",
        ansible_psrp_message_encryption="auto",
        ansible_psrp_read_timeout=99,
    )
    s = read_plugin_settings(_plugin(variables))
    assert (s.protocol, s.auth, s.wsman_kwargs["encryption"]) == ("https", "kerberos", "auto")
    assert (s.wsman_kwargs["operation_timeout"], s.wsman_kwargs["read_timeout"]) == (40, 99)


def test_winrm_path_with_its_leading_slash() -> None:
    """winrm's path is "/wsman" (urlunsplit adds nothing); pypsrp puts "/" before the path itself."""
    base = {
        "ansible_host": "h",
        "ansible_user": "u",
        "ansible_password": "p",
        "ansible_winrm_transport": "ntlm",
    }
    s = read_plugin_settings(_plugin(dict(base, ansible_winrm_path="/wsman")))
    assert s.wsman_kwargs["path"] == "wsman"
    s = read_plugin_settings(_plugin(dict(base, ansible_winrm_path="/wsman", ansible_psrp_path="custom/")))
    assert s.wsman_kwargs["path"] == "custom/"


def test_scheme_follows_the_port_like_the_winrm_plugin() -> None:
    """winrm: scheme unset -> http if the port is 5985, else https."""
    base = {
        "ansible_host": "h",
        "ansible_user": "u",
        "ansible_password": "p",
        "ansible_winrm_transport": "ntlm",
    }
    assert read_plugin_settings(_plugin(dict(base, ansible_port=5985))).protocol == "http"
    assert read_plugin_settings(_plugin(dict(base, ansible_port=5986))).protocol == "https"
    assert read_plugin_settings(_plugin(dict(base, ansible_port=8080))).protocol == "https"
