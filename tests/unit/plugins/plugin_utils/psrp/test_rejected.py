"""_rejected: the message for an option value ansible-core's ConfigManager refuses (type, choices),
naming the host, the option, where it was set, the value (never a secret's) and the fix; and the
connection's ``set_options`` raising it in place of ansible-core's own error."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.config.manager import ensure_type
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _rejected
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import read_plugin_settings
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._rejected import Source, find_source

PORT = {"type": "int", "vars": [{"name": "ansible_port"}, {"name": "ansible_winrm_port"}, {"name": "ansible_psrp_port"}],
        "keyword": [{"name": "port"}]}  # fmt: skip
PROTOCOL = {"type": "str", "choices": ["http", "https"],
            "vars": [{"name": "ansible_winrm_scheme"}, {"name": "ansible_psrp_protocol"}]}  # fmt: skip
PASSWORD = {"type": "str", "secret": True, "aliases": ["password"], "vars": [{"name": "ansible_password"}]}
IDLE = {"type": "int", "env": [{"name": "ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT"}],
        "ini": [{"section": "psremoting_psrp", "key": "session_idle_timeout"}],
        "vars": [{"name": "ansible_psrp_session_idle_timeout"}]}  # fmt: skip
SECRET = "Unit-Secret-77e1"


def _message(name: str, definition: dict[str, Any], source: Source | None) -> str:
    return _rejected.message("win1", name, definition, source, ensure_type)


def test_a_wrong_type_names_host_option_variable_value_type_and_fix() -> None:
    msg = _message("port", PORT, Source("variable", "ansible_winrm_port", "fifty"))
    assert msg == (
        "psrp connection to 'win1': option 'port' (variable ansible_winrm_port) must be an integer, "
        "got 'fifty'; set ansible_winrm_port to a whole number"
    )


def test_a_value_outside_the_choices_lists_them() -> None:
    msg = _message("protocol", PROTOCOL, Source("variable", "ansible_winrm_scheme", "ftp"))
    assert msg == (
        "psrp connection to 'win1': option 'protocol' (variable ansible_winrm_scheme) must be one of "
        "http, https, got 'ftp'; set ansible_winrm_scheme to one of these"
    )


def test_a_list_option_names_the_items_outside_the_choices() -> None:
    definition = {"type": "list", "choices": ["a", "b"], "vars": [{"name": "v"}]}
    msg = _message("opt", definition, Source("variable", "v", "a, c, d"))
    assert "must be one of a, b, got a list ['c', 'd']; set v to one of these" in msg


def test_a_non_string_value_is_shown_with_its_type_and_a_long_one_shortened() -> None:
    assert "got a list [1, 2];" in _message("port", PORT, Source("variable", "ansible_psrp_port", [1, 2]))
    msg = _message("port", PORT, Source("variable", "ansible_psrp_port", "x" * 500))
    assert "'xxx" in msg and "x" * 100 not in msg and "...;" in msg


@pytest.mark.parametrize("value", [["x", SECRET], {"k": SECRET}, ("t", SECRET)])
def test_a_secret_options_value_is_never_shown(value: Any) -> None:
    msg = _message("remote_password", PASSWORD, Source("variable", "ansible_password", value))
    assert "option 'remote_password' (variable ansible_password) must be a string" in msg
    assert "(the value of a secret option is not shown)" in msg
    assert SECRET not in msg


def test_an_option_named_password_is_secret_even_unmarked() -> None:
    msg = _message("key_password", {"type": "int"}, Source("variable", "v", f"{SECRET}"))
    assert SECRET not in msg and "not shown" in msg


def test_a_proxy_url_is_never_shown_it_may_carry_credentials() -> None:
    value = [f"http://admin:{SECRET}@proxy.example:3128"]
    msg = _message("proxy", {"type": "str"}, Source("variable", "ansible_psrp_proxy", value))
    assert "option 'proxy' (variable ansible_psrp_proxy)" in msg
    assert SECRET not in msg and "not shown" in msg


VAULT_SECRET = VaultSecret(b"unit-vault-password")


@pytest.fixture
def vaulted(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A vaulted variable as Ansible loads it from YAML (``!vault``), with the vault secret
    available as in a run (ansible-core >= 2.19 decrypts through VaultSecretsContext)."""
    from ansible.parsing import vault

    if hasattr(vault, "VaultSecretsContext"):
        monkeypatch.setattr(
            vault.VaultSecretsContext, "_current", vault.VaultSecretsContext([("default", VAULT_SECRET)])
        )
    ciphertext = VaultLib([("default", VAULT_SECRET)]).encrypt(SECRET, VAULT_SECRET).decode()
    loader = DataLoader()
    loader.set_vault_secrets([("default", VAULT_SECRET)])
    data = loader.load("v: !vault |\n" + "".join(f"  {line}\n" for line in ciphertext.splitlines()))
    return data["v"]


def test_a_vaulted_value_is_never_shown(vaulted: Any) -> None:
    from ansible.template import Templar

    templated = Templar(loader=DataLoader()).template(vaulted)  # what TaskExecutor hands the plugin
    for value in (vaulted, templated):
        assert str(value) == SECRET  # the test's premise: the value decrypts
        msg = _message("port", PORT, Source("variable", "ansible_psrp_port", value))
        assert SECRET not in msg and "got a vaulted value (not shown)" in msg, (type(value), msg)
    msg = _message("port", PORT, Source("variable", "ansible_psrp_port", [1, {"k": vaulted}]))
    assert SECRET not in msg and "got a list holding a vaulted value (not shown)" in msg, msg


def test_sources_follow_configmanager_precedence() -> None:
    variables = {"ansible_port": 1, "ansible_winrm_port": 2, "ansible_psrp_port": None}
    # within variables the last listed that is set wins (ansible_psrp_* after ansible_winrm_*)
    assert find_source("port", PORT, variables=variables) == Source("variable", "ansible_winrm_port", 2)
    assert find_source("port", PORT, variables=variables, direct={"port": 3}) == Source(
        "direct value", "port", 3
    )
    assert find_source("port", PORT, variables={}, keys={"port": 4}) == Source("task keyword", "port", 4)
    assert find_source("remote_password", PASSWORD, keys={"password": "pw"}) == Source(
        "task keyword", "password", "pw"
    )
    env = {"ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT": "soon"}
    assert find_source("session_idle_timeout", IDLE, variables={}, environ=env) == Source(
        "environment variable", "ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT", "soon"
    )
    ini = {("psremoting_psrp", "session_idle_timeout"): "later"}
    source = find_source("session_idle_timeout", IDLE, environ={}, ini=lambda s, k: ini.get((s, k)))
    assert source == Source("ansible.cfg entry", "[psremoting_psrp] session_idle_timeout", "later")
    assert "set [psremoting_psrp] session_idle_timeout in ansible.cfg to a whole number" in _message(
        "session_idle_timeout", IDLE, source
    )
    assert find_source("session_idle_timeout", IDLE, environ={}) is None


def _plugin() -> Any:
    conn = connection_loader.get("psremoting.core.psrp", PlayContext(), None)
    assert conn is not None
    return conn


BASE = {"ansible_host": "win1.example.test", "ansible_user": "admin", "ansible_password": "pw"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"ansible_psrp_connection_timeout": "abc"},
            "option 'connection_timeout' (variable ansible_psrp_connection_timeout) must be an integer, "
            "got 'abc'; set ansible_psrp_connection_timeout to a whole number",
        ),
        (  # ansible-core 2.16 raises a bare TypeError for this one
            {"ansible_psrp_port": [1, 2]},
            "option 'port' (variable ansible_psrp_port) must be an integer, got a list [1, 2]",
        ),
        (
            {"ansible_psrp_auth": "bogus"},
            "option 'auth' (variable ansible_psrp_auth) must be one of basic, certificate, negotiate, "
            "kerberos, ntlm, credssp, got 'bogus'; set ansible_psrp_auth to one of these",
        ),
        (
            {"ansible_winrm_server_cert_validation": "maybe"},
            "option 'cert_validation' (variable ansible_winrm_server_cert_validation) must be one of "
            "validate, ignore, got 'maybe'",
        ),
        (
            {"ansible_password": [SECRET]},
            "option 'remote_password' (variable ansible_password) must be a string, got a list "
            "(the value of a secret option is not shown)",
        ),
    ],
)
def test_set_options_raises_our_message(variables: dict[str, Any], expected: str) -> None:
    with pytest.raises(AnsibleError) as info:
        _plugin().set_options(var_options={**BASE, **variables})
    msg = str(info.value)
    assert msg.startswith("psrp connection to 'win1.example.test': "), msg
    assert expected in msg
    assert SECRET not in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_set_options_names_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT", "soon")
    with pytest.raises(
        AnsibleError, match=r"\(environment variable ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT\) must be"
    ):
        _plugin().set_options(var_options=BASE)


def test_set_options_with_good_values_is_unchanged() -> None:
    conn = _plugin()
    conn.set_options(var_options={**BASE, "ansible_psrp_auth": "ntlm", "ansible_psrp_port": "5985"})
    assert (conn.get_option("auth"), conn.get_option("port")) == ("ntlm", 5985)


def test_an_error_no_option_explains_is_reported_without_secrets() -> None:
    """If re-reading every option finds none refused (the error came from elsewhere), the message
    still names the host and quotes the error with the secrets' values replaced."""
    conn = _plugin()
    error = RuntimeError(f"something about {SECRET} and keypw")
    variables = {**BASE, "ansible_password": SECRET, "ansible_psrp_certificate_key_password": "keypw"}
    out = _rejected.explain(conn._load_name, "hint", error, variables=variables)
    assert out == (
        "psrp connection to 'win1.example.test': ansible-core refused the connection options: "
        "something about ******** and ********; check this host's ansible_psrp_* and ansible_winrm_* variables"
    )


def test_a_failure_while_explaining_gives_a_message_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """explain never raises: the connection raises its message inside the ``except`` of
    ansible-core's error, whose text may quote a password; an exception here would show it as the
    context of a traceback."""
    from ansible import constants as C

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("key")

    monkeypatch.setattr(C.config, "get_configuration_definitions", broken)
    error = RuntimeError(f"Invalid value {SECRET} for option remote_password")
    out = _rejected.explain("psremoting.core.psrp", "win1", error, variables={"ansible_password": SECRET})
    assert SECRET not in out
    assert out.startswith("psrp connection to 'win1': ansible-core refused a connection option value")


@pytest.mark.parametrize(
    ("source", "origin"),
    [
        (Source("variable", "ansible_winrm_port", 1), "var: ansible_winrm_port"),
        (Source("environment variable", "ANSIBLE_X", "1"), "env: ANSIBLE_X"),
        (Source("task keyword", "port", 1), "keyword: port"),
        (Source("direct value", "port", 1), "Direct"),
    ],
)
def test_source_origins_are_ansible_cores(source: Source, origin: str) -> None:
    assert source.origin == origin


def test_our_own_checks_name_the_variable_the_inventory_set_on_every_ansible_core() -> None:
    """ansible-core 2.16 records no origins (its get_option_and_origin resolves the option again
    without the variables): the plugin keeps what set_options received, so the range check names
    ansible_winrm_port, and the ansible_psrp_* variable wins over the ansible_winrm_* translation."""
    conn = _plugin()
    conn.set_options(var_options={**BASE, "ansible_winrm_port": 70000, "_extras": {}})
    with pytest.raises(
        Exception, match=r"option 'port' \(variable ansible_winrm_port\) must be between 1 and 65535"
    ):
        read_plugin_settings(conn, "win1")
    conn = _plugin()
    both = {"ansible_psrp_auth": "kerberos", "ansible_winrm_transport": "ntlm", "_extras": {}}
    conn.set_options(var_options={**BASE, **both})
    assert read_plugin_settings(conn, "win1").auth == "kerberos"


def test_without_recorded_origins_ansible_cfg_is_read_once_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """On ansible-core 2.16 (no origins recorded) every option's origin is looked up again: the
    ansible.cfg reader is built once for all of them, not once per option (39 file reads a task)."""
    built: list[int] = []
    real = _rejected.ini_reader

    def counting() -> Any:
        built.append(1)
        return real()

    monkeypatch.setattr(_rejected, "ini_reader", counting)
    conn = _plugin()
    both = {"ansible_psrp_auth": "kerberos", "ansible_winrm_transport": "ntlm", "_extras": {}}
    conn.set_options(var_options={**BASE, **both})
    monkeypatch.setattr(conn, "_origins", None, raising=False)  # as on ansible-core 2.16
    assert read_plugin_settings(conn, "win1").auth == "kerberos"  # the psrp variable still wins
    assert built == [1]
