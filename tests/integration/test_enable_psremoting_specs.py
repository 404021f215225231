"""roles/enable_psremoting: defaults/main.yml and meta/argument_specs.yml describe the same variables."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "enable_psremoting"


def _load() -> tuple[dict, dict]:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return defaults, specs


def test_every_default_is_documented_with_the_same_value() -> None:
    defaults, specs = _load()
    documented: dict[str, dict] = {}
    for entry in specs.values():
        documented.update(entry["options"])
    assert set(defaults) == set(documented), set(defaults) ^ set(documented)
    for name, value in defaults.items():
        spec = documented[name]
        assert spec.get("default") == value, name
        assert spec.get("description"), name


def test_prefixes_and_main_entry_point() -> None:
    defaults, specs = _load()
    assert all(name.startswith("enable_psremoting_") for name in defaults)
    assert {"main", "disable", "bootstrap"} <= set(specs)
    main = specs["main"]["options"]
    assert main["enable_psremoting_https_pfx_password"].get("no_log") is True
    # Secure defaults
    assert defaults["enable_psremoting_https_listener"] is True
    assert defaults["enable_psremoting_auth_basic"] is False
    assert defaults["enable_psremoting_auth_credssp"] is False
    assert defaults["enable_psremoting_allow_unencrypted"] is False
    assert defaults["enable_psremoting_trusted_hosts"] is None
    assert defaults["enable_psremoting_firewall_public_remote_address"] == ["LocalSubnet"]
    assert defaults["enable_psremoting_allow_disconnect"] is False


def test_internal_variables_use_the_double_underscore_prefix() -> None:
    for path in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            for key in ("register",):
                if key in task:
                    assert task[key].startswith("__enable_psremoting_"), (path.name, task[key])
            facts = task.get("ansible.builtin.set_fact") or {}
            assert all(name.startswith("__enable_psremoting_") for name in facts), (path.name, facts)
