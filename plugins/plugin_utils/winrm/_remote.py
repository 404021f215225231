# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pipelines the WinRM modules send: each a documented cmdlet with named, typed parameters.

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Cmdlet references (PowerShell-Docs):
* Get-Item / Set-Item on the WSMan: drive - about_WSMan_Provider (Microsoft.WSMan.Management).
  ``Set-Item`` gets ``-Force`` because some items (TrustedHosts) otherwise prompt for confirmation.
* Get-ItemProperty - Microsoft.PowerShell.Management (registry provider; the key may be absent,
  so ``-ErrorAction SilentlyContinue``).
* Get-WSManInstance / New-WSManInstance / Set-WSManInstance / Remove-WSManInstance with
  ``-ResourceURI winrm/config/Listener`` and ``-SelectorSet @{Address=..;Transport=..}``
  (Microsoft.WSMan.Management; [MS-WSMV] 3.1.4.1.30.2 for the listener resource and selectors).
* Get-Service / Set-Service -StartupType / Start-Service / Stop-Service / Restart-Service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.action._base import PipelineRunner
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._action import command, statements
from ansible_collections.psremoting.core.plugins.plugin_utils.winrm._settings import (
    LeafValue,
    SettingChange,
    WSManSetting,
    leaves_by_setting,
    policy_keys,
    policy_values_from_ps,
    to_wsman_value,
)

LISTENER_URI = "winrm/config/Listener"


def read_settings(runner: PipelineRunner, settings: Sequence[WSManSetting]) -> dict[str, LeafValue]:
    # Items that do not exist on an older host produce a non-terminating error; the rest still come
    # back, and leaves_by_setting leaves the missing one out.
    output = runner.run(
        "read WSMan configuration",
        [command("Get-Item", Path=[s.path for s in settings], ErrorAction="SilentlyContinue")],
        depth=1,
        ignore_errors=True,
    )
    return leaves_by_setting(settings, output)


def read_policies(runner: PipelineRunner, settings: Sequence[WSManSetting]) -> dict[str, dict[str, Any]]:
    keys = policy_keys(settings)
    output = runner.run(
        "read WinRM Group Policy values",
        statements(
            *[[command("Get-ItemProperty", Path=key, ErrorAction="SilentlyContinue")] for key in keys]
        ),
        depth=1,
        ignore_errors=True,
    )
    # One object per existing key, in order. PSPath tells which key it came from.
    policies: dict[str, dict[str, Any]] = {key: {} for key in keys}
    for obj in output:
        if not isinstance(obj, Mapping):
            continue
        ps_path = str(obj.get("PSPath") or "").lower()
        for key in keys:
            tail = key.split(":", 1)[1].lower()
            if ps_path.endswith(tail):
                policies[key] = policy_values_from_ps([obj])
    return policies


def apply_settings(runner: PipelineRunner, changes: Sequence[SettingChange]) -> None:
    for change in changes:
        runner.run(
            f"set {change.path}",
            [
                command(
                    "Set-Item", Path=change.path, Value=to_wsman_value(change.kind, change.after), Force=True
                )
            ],
        )


def read_listeners(runner: PipelineRunner) -> list[Any]:
    return runner.run(
        "enumerate WinRM listeners",
        [command("Get-WSManInstance", ResourceURI=LISTENER_URI, Enumerate=True)],
        depth=1,
    )


def selector(address: str, transport: str) -> dict[str, str]:
    return {"Address": address, "Transport": transport.upper()}


def new_listener(runner: PipelineRunner, address: str, transport: str, values: Mapping[str, Any]) -> None:
    runner.run(
        f"create the {transport.upper()} listener on {address}",
        [
            command(
                "New-WSManInstance",
                ResourceURI=LISTENER_URI,
                SelectorSet=selector(address, transport),
                ValueSet=dict(values),
            )
        ],
    )


def set_listener(runner: PipelineRunner, address: str, transport: str, values: Mapping[str, Any]) -> None:
    runner.run(
        f"update the {transport.upper()} listener on {address}",
        [
            command(
                "Set-WSManInstance",
                ResourceURI=LISTENER_URI,
                SelectorSet=selector(address, transport),
                ValueSet=dict(values),
            )
        ],
    )


def remove_listener(runner: PipelineRunner, address: str, transport: str) -> None:
    runner.run(
        f"remove the {transport.upper()} listener on {address}",
        [command("Remove-WSManInstance", ResourceURI=LISTENER_URI, SelectorSet=selector(address, transport))],
    )


def read_certificates(runner: PipelineRunner, store: str = "Cert:\\LocalMachine\\My") -> list[Any]:
    # X509Certificate2 objects (Thumbprint, Subject, Issuer, NotBefore, NotAfter, HasPrivateKey,
    # DnsNameList, EnhancedKeyUsageList, RawData): Cert: provider, about_Certificate_Provider.
    return runner.run("list certificates in " + store, [command("Get-ChildItem", Path=store)], depth=2)


def read_service(runner: PipelineRunner, name: str = "WinRM") -> Mapping[str, Any]:
    output = runner.run(f"read the {name} service", [command("Get-Service", Name=name)], depth=1)
    return output[0] if output and isinstance(output[0], Mapping) else {}
