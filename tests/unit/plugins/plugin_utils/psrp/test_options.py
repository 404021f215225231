"""Option table of psremoting.core.psrp against ansible-core's own psrp plugin, and validation."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _options
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    SESSION_OPTIONS,
    OptionError,
    default_for,
    read_settings,
    session_key,
)

PLUGIN_PATH = Path(__file__).resolve().parents[5] / "plugins" / "connection" / "psrp.py"


def _doc_options(source: str) -> dict[str, dict[str, Any]]:
    """DOCUMENTATION's options, read the way ansible-doc reads them (AST, no import)."""
    from ansible.parsing.plugin_docs import read_docstring

    doc = read_docstring(source)["doc"]
    return dict(doc["options"])


@pytest.fixture(scope="module")
def builtin_options() -> dict[str, dict[str, Any]]:
    module = importlib.import_module("ansible.plugins.connection.psrp")
    assert module.__file__
    return _doc_options(module.__file__)


@pytest.fixture(scope="module")
def our_options() -> dict[str, dict[str, Any]]:
    """Our documented options as ansible-doc shows them: the plugin merged with its doc fragments
    (the options themselves live in plugins/doc_fragments/psrp_connection.py)."""
    from ansible.plugins.loader import fragment_loader
    from ansible.utils.plugin_docs import get_docstring

    doc = get_docstring(
        str(PLUGIN_PATH), fragment_loader, collection_name="psremoting.core", plugin_type="connection"
    )[0]
    return dict(doc["options"])


def _vars(spec: dict[str, Any]) -> set[str]:
    return {v["name"] for v in spec.get("vars", [])}


def test_every_builtin_option_and_var_is_accepted(builtin_options: dict, our_options: dict) -> None:
    """An inventory written for ansible.builtin.psrp must work by changing only ansible_connection."""
    missing = sorted(set(builtin_options) - set(our_options))
    assert not missing, f"options of ansible.builtin.psrp we do not accept: {missing}"
    for name, spec in builtin_options.items():
        ours = our_options[name]
        assert _vars(spec) <= _vars(ours), f"{name}: vars {_vars(spec) - _vars(ours)} not accepted"
        assert default_for(name) == spec.get("default"), f"{name}: default differs"
        assert ours.get("type", "str") == spec.get("type", "str"), f"{name}: type differs"
        assert ours.get("choices") == spec.get("choices"), f"{name}: choices differ"
        assert set(ours.get("aliases", [])) >= set(spec.get("aliases", [])), f"{name}: aliases"
        kw = {k["name"] for k in spec.get("keyword", [])}
        assert kw <= {k["name"] for k in ours.get("keyword", [])}, f"{name}: keywords"
        # ansible-core 2.22 marks the builtin's passwords `secret` and masks them in output
        assert bool(ours.get("secret")) >= bool(spec.get("secret")), f"{name}: the builtin's is secret"


def test_passwords_are_secret_on_every_ansible_core(our_options: dict) -> None:
    """The options ansible.builtin.psrp of ansible-core 2.22 marks ``secret`` (its DOCUMENTATION:
    remote_password, certificate_key_password) are marked so here whatever ansible-core is
    installed; 2.16-2.21 ignore the key (and 2.19's ansible-test docs schema accepts it)."""
    assert {name for name, spec in our_options.items() if spec.get("secret")} == {
        "remote_password",
        "certificate_key_password",
    }


def test_secret_options_are_masked_in_output_on_ansible_core_2_22() -> None:
    """ansible-core 2.22's ConfigManager registers a ``secret`` option's value with the secret
    masker when it resolves it (config/manager.py); ansible.module_utils.secrets.mask_secrets then
    redacts it, as it does for the builtin's password."""
    secrets = pytest.importorskip(
        "ansible.module_utils.secrets", reason="ansible-core < 2.22 has no secret masker for options"
    )
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    password, key_password = f"pw-{uuid.uuid4().hex}", f"keypw-{uuid.uuid4().hex}"
    conn = connection_loader.get("psremoting.core.psrp", PlayContext(), None)
    conn.set_options(
        var_options={
            "ansible_host": "win1.example.test",
            "ansible_user": "admin",
            "ansible_password": password,
            "ansible_psrp_certificate_key_password": key_password,
        }
    )
    assert conn.get_option("remote_password") == password
    text = f"out {password} and {key_password} end"
    assert secrets.mask_secrets(text) == "out $REDACTED$ and $REDACTED$ end"


def test_option_table_matches_documentation(our_options: dict) -> None:
    """_options.py (where options are read) and DOCUMENTATION (what Ansible loads) agree."""
    documented = {k for k in our_options if k != "pipelining"}
    assert documented == set(OPTION_TABLE)
    for name, (kind, default, choices, var) in OPTION_TABLE.items():
        spec = our_options[name]
        assert spec.get("type", "str") == kind, name
        assert spec.get("default") == default, name
        assert tuple(spec["choices"]) == choices if choices else "choices" not in spec, name
        assert var in _vars(spec), f"{name}: error messages quote {var}, which is not one of its vars"
    for name in SESSION_OPTIONS:
        assert our_options[name]["vars"][0]["name"] == f"ansible_psrp_{name}"


def _getter(overrides: dict[str, Any] | None = None) -> Any:
    values = {name: spec[1] for name, spec in OPTION_TABLE.items()}
    values["remote_addr"] = "win1.example.test"
    values["remote_user"] = "admin"
    values["remote_password"] = "s3cret!"
    values.update(overrides or {})
    return values.__getitem__


def test_defaults_build_the_same_wsman_kwargs_as_the_builtin() -> None:
    s = read_settings(_getter())
    assert (s.host, s.port, s.protocol) == ("win1.example.test", 5986, "https")
    kw = s.wsman_kwargs
    assert kw["ssl"] is True and kw["cert_validation"] is True and kw["auth"] == "negotiate"
    assert kw["max_envelope_size"] == 153600 and kw["operation_timeout"] == 20 and kw["read_timeout"] == 30
    assert kw["reconnection_backoff"] == 2.0 and isinstance(kw["reconnection_backoff"], float)
    assert kw["negotiate_service"] == default_for("negotiate_service") and kw["no_proxy"] is False
    assert "certificate_key_password" not in kw and s.no_profile is False
    assert s.session.persist is True and s.session.idle_timeout == 60
    assert s.session.shell_idle_timeout == 90


@pytest.mark.parametrize(
    ("port", "protocol", "expected"),
    [
        (None, None, (5986, "https")),
        (5985, None, (5985, "http")),
        (8443, None, (8443, "https")),
        (None, "http", (5985, "http")),
        (None, "https", (5986, "https")),
        ("5985", "http", (5985, "http")),
    ],
)
def test_port_protocol_derivation(port: Any, protocol: Any, expected: tuple[int, str]) -> None:
    s = read_settings(_getter({"port": port, "protocol": protocol, "auth": "ntlm"}))
    assert (s.port, s.protocol) == expected


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"port": "abc"}, ["win1.example.test", "'port'", "ansible_port", "number"]),
        ({"port": 70000}, ["'port'", "65535"]),
        ({"operation_timeout": 0}, ["'operation_timeout'", "positive"]),
        ({"auth": "digest"}, ["'auth'", "ansible_psrp_auth", "basic"]),
        ({"ignore_proxy": "maybe"}, ["'ignore_proxy'", "true or false"]),
        ({"max_envelope_size": 1000}, ["'max_envelope_size'", "MaxEnvelopeSizekb"]),
        ({"max_output_size": 1000}, ["'max_output_size'", "ansible_psrp_max_output_size", "1 MiB"]),
        ({"auth": "basic", "protocol": "http"}, ["'auth'", "message_encryption=never"]),
        ({"auth": "certificate"}, ["'certificate_pem'", "PEM"]),
        ({"ca_cert": "/nonexistent/ca.pem"}, ["'ca_cert'", "/nonexistent/ca.pem", "does not exist"]),
        ({"session_idle_timeout": -1}, ["'session_idle_timeout'", "negative"]),
        ({"auth": "ntlm", "remote_user": None}, ["'remote_user'", "ansible_user"]),
    ],
)
def test_bad_values_name_host_option_and_fix(overrides: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(OptionError) as err:
        read_settings(_getter(overrides))
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "s3cret!" not in message


def test_get_option_failures_are_reported_with_the_host() -> None:
    def get_option(name: str) -> Any:
        if name == "read_timeout":
            raise ValueError("Invalid type for configuration option")
        return _getter()(name)

    with pytest.raises(OptionError, match=r"'read_timeout' \(variable ansible_psrp_read_timeout\)"):
        read_settings(get_option, "host-a")


def test_basic_over_http_is_fine_without_encryption() -> None:
    s = read_settings(_getter({"auth": "basic", "protocol": "http", "message_encryption": "never"}))
    assert s.wsman_kwargs["encryption"] == "never"


def test_read_timeout_not_above_operation_timeout_warns() -> None:
    s = read_settings(_getter({"read_timeout": 20, "operation_timeout": 20}))
    assert s.warnings and "read_timeout" in s.warnings[0]


def test_cert_validation_ignore_and_ca_bundle(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert (
        read_settings(_getter({"cert_validation": "ignore", "ca_cert": str(ca)})).wsman_kwargs[
            "cert_validation"
        ]
        is False
    )
    assert read_settings(_getter({"ca_cert": str(ca)})).wsman_kwargs["cert_validation"] == str(ca)


def test_describe_has_no_secret() -> None:
    s = read_settings(_getter())
    assert "s3cret!" not in s.describe() and "s3cret!" not in repr(s.identity())


def test_session_key_separates_credentials_and_hides_them() -> None:
    salt = b"0" * 32
    base = dict(read_settings(_getter()).wsman_kwargs)
    key = session_key(salt, base, "Microsoft.PowerShell", None, 60)
    assert key == session_key(salt, dict(base), "Microsoft.PowerShell", None, 60)
    other_pw = dict(base, password="other")
    assert key != session_key(salt, other_pw, "Microsoft.PowerShell", None, 60)
    assert key != session_key(salt, dict(base, username="someone"), "Microsoft.PowerShell", None, 60)
    assert key != session_key(salt, base, "JEA", None, 60)
    assert key != session_key(salt, base, "Microsoft.PowerShell", ["runas", "SYSTEM"], 60)
    assert key != session_key(b"1" * 32, base, "Microsoft.PowerShell", None, 60)
    assert key != session_key(salt, base, "Microsoft.PowerShell", None, 60, no_profile=True)
    assert "s3cret" not in key and len(key) == 64


def test_module_has_private_banner() -> None:
    assert _options.__file__
    first = Path(_options.__file__).read_text(encoding="utf-8").splitlines()[0]
    assert "not a public API" in first


def test_documentation_is_valid_yaml_with_fragment() -> None:
    from ansible.parsing.plugin_docs import read_docstring

    raw = read_docstring(str(PLUGIN_PATH))["doc"]
    assert raw["name"] == "psrp"
    assert raw["extends_documentation_fragment"] == [
        "connection_pipelining",
        "psremoting.core.psrp_connection",
    ]
    assert "options" not in raw, "the options live in the psrp_connection doc fragment"


@pytest.mark.parametrize("empty", ["", None])
def test_empty_ca_cert_keeps_validation_on(empty: Any) -> None:
    """An empty ansible_psrp_ca_cert (say, an env lookup of an unset variable) must not reach
    requests as ``verify=""``, which would silently turn certificate validation off."""
    kwargs = read_settings(_getter({"ca_cert": empty})).wsman_kwargs
    assert kwargs["cert_validation"] is True


@pytest.mark.parametrize(("core", "expected"), [((2, 16), "WSMAN"), ((2, 20), "WSMAN"), ((2, 21), "host")])
def test_negotiate_service_default_follows_the_installed_builtin(
    monkeypatch: pytest.MonkeyPatch, core: tuple[int, int], expected: str
) -> None:
    """ansible-core 2.21 changed ansible.builtin.psrp's default from WSMAN to host."""
    monkeypatch.setattr(_options, "ansible_core_version", lambda: core)
    assert read_settings(_getter()).wsman_kwargs["negotiate_service"] == expected
    explicit = read_settings(_getter({"negotiate_service": "HTTP"}))
    assert explicit.wsman_kwargs["negotiate_service"] == "HTTP"


def test_ansible_core_version_is_the_installed_one() -> None:
    from ansible.release import __version__

    assert ".".join(map(str, _options.ansible_core_version())) in __version__


def test_options_added_in_ansible_core_2_21() -> None:
    """certificate_key_password and no_profile (ansible-core 2.21) work with every version."""
    s = read_settings(_getter({"certificate_key_password": "k3y!", "no_profile": "yes"}))
    assert s.wsman_kwargs["certificate_key_password"] == "k3y!" and s.no_profile is True
    assert "k3y!" not in repr(s) and "k3y!" not in s.describe()


def test_max_output_size_reaches_the_settings() -> None:
    assert read_settings(_getter()).max_output_size == 512 * 1024 * 1024
    assert read_settings(_getter({"max_output_size": 4 * 1024 * 1024})).max_output_size == 4 * 1024 * 1024


def test_misspelt_psrp_variables_are_named_with_the_closest_one() -> None:
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import unknown_psrp_variables

    names = {
        "ansible_psrp_operaton_timeout": 5,  # typo
        "ansible_psrp_bogus": 1,  # nothing close
        "ansible_psrp_operation_timeout": 5,  # the first variable of an option
        "ansible_psrp_host": "h",  # an alias the doc fragment declares
        "ansible_user": "u",  # not ours
    }
    assert unknown_psrp_variables(names) == [
        "ansible_psrp_bogus",
        "ansible_psrp_operaton_timeout (did you mean ansible_psrp_operation_timeout?)",
    ]
    assert unknown_psrp_variables({"ansible_psrp_auth": "ntlm", "ansible_port": 1}) == []
