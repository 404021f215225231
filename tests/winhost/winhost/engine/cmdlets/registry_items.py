"""The Registry provider (HKLM:, HKCU:) over ``machine.registry``.

Keys are Microsoft.Win32.RegistryKey items (Name as HKEY_LOCAL_MACHINE\\..., Property = value names,
SubKeyCount, ValueCount); Get-ItemProperty returns a PSCustomObject of the values plus PSPath...
(about_Registry_Provider:
https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_registry_provider).
Value kinds follow Microsoft.Win32.RegistryValueKind (String, ExpandString, Binary, DWord,
MultiString, QWord). Writing under the WinRM policy key makes the policy effective on the WSMan
configuration (see winhost.engine.cmdlets.wsman_drive.apply_policies).
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import ErrorCategory, PSCustomObject, PSNoteProperty

from winhost.engine.cmdlets.items import ItemNotFound, Provider, register_provider
from winhost.engine.context import CommandCall
from winhost.engine.model import (
    GPO_WINRM_SERVICE,
    TOPIC_REGISTRY,
    CIDict,
    RegistryValue,
    normalize_registry_path,
)
from winhost.engine.values import as_list, new_object, to_number, to_string

_HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER"}
_IMPLICIT = {
    "hklm:\\",
    "hklm:\\software",
    "hklm:\\system",
    "hklm:\\software\\microsoft",
    "hklm:\\software\\policies",
    "hklm:\\software\\policies\\microsoft",
    "hklm:\\software\\microsoft\\windows",
    "hklm:\\software\\microsoft\\windows\\currentversion",
    "hklm:\\software\\microsoft\\windows\\currentversion\\policies",
    "hklm:\\software\\microsoft\\windows nt",
    "hklm:\\system\\currentcontrolset",
    "hklm:\\system\\currentcontrolset\\services",
    "hklm:\\system\\currentcontrolset\\control",
    "hkcu:\\",
    "hkcu:\\software",
}
_KINDS = ("String", "ExpandString", "Binary", "DWord", "MultiString", "QWord")


def _native(path: str) -> str:
    hive, _, rest = path.partition(":\\")
    return _HIVES.get(hive.upper(), hive) + ("\\" + rest if rest else "")


class RegistryProvider(Provider):
    name = "Registry"
    module = "Microsoft.PowerShell.Core"
    drives = ("HKLM", "HKCU")

    def provider_path(self, path: str) -> str:
        return _native(normalize_registry_path(path))

    def _key(self, call: CommandCall, path: str) -> CIDict[RegistryValue] | None:
        return call.ctx.machine.registry_key(path)

    def exists(self, call: CommandCall, path: str) -> bool:
        key = normalize_registry_path(path)
        if key.lower() in _IMPLICIT:
            return True
        with call.ctx.machine.lock:
            return any(
                k.lower() == key.lower() or k.lower().startswith(key.lower() + "\\")
                for k in call.ctx.machine.registry
            )

    def is_container(self, call: CommandCall, path: str) -> bool:
        return True

    def _subkeys(self, call: CommandCall, path: str) -> list[str]:
        key = normalize_registry_path(path).rstrip("\\")
        prefix = key.lower() + "\\"
        names: dict[str, str] = {}
        with call.ctx.machine.lock:
            candidates = list(call.ctx.machine.registry) + list(_IMPLICIT)
        for k in candidates:
            if k.lower().startswith(prefix):
                child = k[len(prefix) :].split("\\", 1)[0]
                if child:
                    names.setdefault(
                        child.lower(), child if k in call.ctx.machine.registry else child.title()
                    )
        return sorted(names.values(), key=str.lower)

    def _key_object(self, call: CommandCall, path: str) -> Any:
        values = self._key(call, path) or CIDict()
        return new_object(
            ["Microsoft.Win32.RegistryKey", "System.MarshalByRefObject", "System.Object"],
            {
                "Name": _native(normalize_registry_path(path)),
                "SubKeyCount": len(self._subkeys(call, path)),
                "ValueCount": len(values),
                "View": "Default",
                "Handle": None,
            },
            to_string_value=_native(normalize_registry_path(path)),
            extended={"Property": list(values.keys())},
        )

    def get_item(self, call: CommandCall, path: str) -> Any:
        if not self.exists(call, path):
            raise ItemNotFound(path)
        return self._key_object(call, path)

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        if not self.exists(call, path):
            raise ItemNotFound(path)
        base = normalize_registry_path(path).rstrip("\\")
        out = []
        for name in self._subkeys(call, path):
            child = f"{base}\\{name}"
            out.append(self.decorate(self._key_object(call, child), child, True, base.split(":")[0]))
            if recurse:
                out.extend(self.child_items(call, child, True))
        return out

    def new_item(self, call: CommandCall, path: str, item_type: str | None, value: Any) -> Any:
        key = normalize_registry_path(path)
        parent = key.rpartition("\\")[0]
        if self.exists(call, key) and not call.switch("Force"):
            raise call.fail(
                "A key at this path already exists.",
                "System.IO.IOException",
                ErrorCategory.ResourceExists,
                target=path,
                exception_type="System.IO.IOException",
            )
        if not self.exists(call, parent) and not call.switch("Force"):
            raise ItemNotFound(parent)
        call.ctx.machine.registry_key(key, create=True)
        if value is not None:
            self.set_property(call, key, "(default)", value, "String", create=True)
        self._changed(call, key)
        return self._key_object(call, key)

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        key = normalize_registry_path(path)
        if not self.exists(call, key):
            raise ItemNotFound(path)
        subkeys = self._subkeys(call, key)
        if subkeys and not recurse:
            raise call.fail(
                f"The item at {path} has children and the Recurse parameter was not specified.",
                "RemoveItemUnauthorizedAccessError",
                ErrorCategory.InvalidOperation,
                exception_type="System.InvalidOperationException",
            )
        machine = call.ctx.machine
        with machine.lock:
            for k in list(machine.registry):
                if k.lower() == key.lower() or k.lower().startswith(key.lower() + "\\"):
                    del machine.registry[k]
        self._changed(call, key)

    def get_properties(self, call: CommandCall, path: str, names: list[str] | None) -> Any:
        if not self.exists(call, path):
            raise ItemNotFound(path)
        values = self._key(call, path) or CIDict()
        obj = PSCustomObject()
        wanted = names
        for name, rv in values.items():
            if wanted is not None and not any(name.lower() == w.lower() for w in wanted):
                continue
            obj.PSObject.extended_properties.append(PSNoteProperty(name, value=rv.value))
        for w in wanted or []:
            if w not in values:
                call.error(
                    f"Property {w} does not exist at path {_native(normalize_registry_path(path))}.",
                    "System.Management.Automation.PSArgumentException",
                    ErrorCategory.InvalidArgument,
                    target=w,
                    exception_type="System.Management.Automation.PSArgumentException",
                )
        if wanted is not None and not obj.PSObject.extended_properties:
            return None
        return obj

    def set_property(  # noqa: PLR0917 - provider interface
        self, call: CommandCall, path: str, name: str, value: Any, kind: str | None, create: bool
    ) -> Any:
        if not self.exists(call, path):
            raise ItemNotFound(path)
        machine = call.ctx.machine
        key = machine.registry_key(path, create=True)
        assert key is not None
        if create and name in key and not call.switch("Force"):
            raise call.fail(
                "The property already exists.",
                "System.IO.IOException",
                ErrorCategory.ResourceExists,
                target=name,
                exception_type="System.IO.IOException",
            )
        kind_name = _kind(kind) if kind else (key[name].kind if name in key else _infer_kind(value))
        converted = _convert(kind_name, value)
        with machine.lock:
            key[name] = RegistryValue(converted, kind_name)
        self._changed(call, path)
        obj = PSCustomObject()
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value=converted))
        return obj

    def remove_property(self, call: CommandCall, path: str, name: str) -> None:
        key = self._key(call, path)
        if key is None or name not in key:
            call.error(
                f"Property {name} does not exist at path {_native(normalize_registry_path(path))}.",
                "System.Management.Automation.PSArgumentException",
                ErrorCategory.InvalidArgument,
                target=name,
                exception_type="System.Management.Automation.PSArgumentException",
            )
            return
        with call.ctx.machine.lock:
            del key[name]
        self._changed(call, path)

    def _changed(self, call: CommandCall, path: str) -> None:
        machine = call.ctx.machine
        machine.notify(TOPIC_REGISTRY)
        if normalize_registry_path(path).lower().startswith(GPO_WINRM_SERVICE.lower()):
            from winhost.engine.cmdlets.wsman_drive import apply_policies

            apply_policies(machine)


def _kind(kind: str) -> str:
    for k in _KINDS:
        if k.lower() == kind.lower():
            return k
    if kind.lower() in ("reg_dword", "dword"):
        return "DWord"
    raise ValueError(kind)


def _infer_kind(value: Any) -> str:
    if isinstance(value, (bool, int)):
        return "DWord"
    if isinstance(value, list):
        return "MultiString"
    if isinstance(value, (bytes, bytearray)):
        return "Binary"
    return "String"


def _convert(kind: str, value: Any) -> Any:
    if kind in ("DWord", "QWord"):
        number = int(to_number(value))
        if kind == "DWord" and number < 0:
            number &= 0xFFFFFFFF
        return number
    if kind == "MultiString":
        return [to_string(v) for v in as_list(value)]
    if kind == "Binary":
        return list(bytes(int(b) for b in as_list(value)))
    return to_string(value)


register_provider(RegistryProvider())
