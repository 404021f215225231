"""Provider cmdlets (Get-Item, Set-Item, Get-ChildItem, New-Item, Remove-Item, Test-Path, Copy-Item,
Move-Item, Get/Set/New/Remove-ItemProperty, Get-ItemPropertyValue, Get/Set/Add-Content,
Get/Set-Location, Resolve-Path) dispatching to the drives: WSMan:, Cert:, HKLM:/HKCU:, Env:, C:.

Provider paths and the PSPath/PSParentPath/PSChildName/PSDrive/PSProvider/PSIsContainer note
properties follow about_Providers
(https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_providers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory, PSNoteProperty, PSObject

from winhost.engine.cmdlets.registry import Param, cmdlet
from winhost.engine.context import CommandCall
from winhost.engine.errors import not_emulated
from winhost.engine.model import CIDict
from winhost.engine.values import as_list, enumerate_value, like, new_object, to_string
from winhost.engine.wildcards import contains_wildcards

MANAGEMENT = "Microsoft.PowerShell.Management"


class ItemNotFound(Exception):
    pass


class Provider:
    """Base class of a drive's provider. Paths given to methods are normalized ``Drive:\\a\\b``."""

    name = ""
    module = ""
    drives: tuple[str, ...] = ()

    def ps_path(self, path: str) -> str:
        return f"{self.module}\\{self.name}::{self.provider_path(path)}"

    def provider_path(self, path: str) -> str:
        return path.split(":\\", 1)[1] if ":\\" in path else path

    def exists(self, call: CommandCall, path: str) -> bool:
        try:
            self.get_item(call, path)
            return True
        except ItemNotFound:
            return False

    def is_container(self, call: CommandCall, path: str) -> bool:
        return True

    def get_item(self, call: CommandCall, path: str) -> Any:
        raise not_emulated(f"Get-Item on the {self.name} provider")

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        raise not_emulated(f"Get-ChildItem on the {self.name} provider")

    def set_item(self, call: CommandCall, path: str, value: Any) -> None:
        raise not_emulated(f"Set-Item on the {self.name} provider")

    def new_item(self, call: CommandCall, path: str, item_type: str | None, value: Any) -> Any:
        raise not_emulated(f"New-Item on the {self.name} provider")

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        raise not_emulated(f"Remove-Item on the {self.name} provider")

    def get_properties(self, call: CommandCall, path: str, names: list[str] | None) -> Any:
        raise not_emulated(f"Get-ItemProperty on the {self.name} provider")

    def set_property(  # noqa: PLR0917 - provider interface
        self, call: CommandCall, path: str, name: str, value: Any, kind: str | None, create: bool
    ) -> Any:
        raise not_emulated(f"Set-ItemProperty on the {self.name} provider")

    def remove_property(self, call: CommandCall, path: str, name: str) -> None:
        raise not_emulated(f"Remove-ItemProperty on the {self.name} provider")

    def get_content(self, call: CommandCall, path: str, raw: bool, encoding: str | None) -> Any:
        raise not_emulated(f"Get-Content on the {self.name} provider")

    def set_content(  # noqa: PLR0917 - provider interface
        self,
        call: CommandCall,
        path: str,
        values: list[Any],
        append: bool,
        encoding: str | None,
        no_newline: bool,
    ) -> None:
        raise not_emulated(f"Set-Content on the {self.name} provider")

    def copy_item(self, call: CommandCall, path: str, dest: str, recurse: bool) -> None:
        raise not_emulated(f"Copy-Item on the {self.name} provider")

    def move_item(self, call: CommandCall, path: str, dest: str) -> None:
        raise not_emulated(f"Move-Item on the {self.name} provider")

    def decorate(self, obj: Any, path: str, is_container: bool, drive: str) -> Any:
        """Add PowerShell's provider note properties to an item."""
        if not isinstance(obj, PSObject):
            return obj
        parent, _, child = path.rpartition("\\")
        notes = {
            "PSPath": self.ps_path(path),
            "PSParentPath": self.ps_path(parent)
            if parent and not parent.endswith(":")
            else (self.ps_path(parent + "\\") if parent else ""),
            "PSChildName": child,
            "PSDrive": drive,
            "PSProvider": f"{self.module}\\{self.name}",
            "PSIsContainer": is_container,
        }
        existing = {p.name for p in obj.PSObject.extended_properties} | {
            p.name for p in obj.PSObject.adapted_properties
        }
        for k, v in notes.items():
            if k not in existing:
                obj.PSObject.extended_properties.append(PSNoteProperty(k, value=v))
        return obj


PROVIDERS: list[Provider] = []


def register_provider(provider: Provider) -> Provider:
    PROVIDERS.append(provider)
    return provider


_QUALIFIED = {
    "microsoft.wsman.management\\wsman::": "WSMan:\\",
    "wsman::": "WSMan:\\",
    "microsoft.powershell.security\\certificate::": "Cert:\\",
    "certificate::": "Cert:\\",
    "microsoft.powershell.core\\registry::": "Registry::",
    "microsoft.powershell.core\\filesystem::": "",
    "filesystem::": "",
}


def normalize_path(call: CommandCall, path: str) -> str:
    """Absolute, backslash-separated path with the drive spelled as the provider spells it."""
    p = path.replace("/", "\\")
    low = p.lower()
    for prefix, repl in _QUALIFIED.items():
        if low.startswith(prefix):
            p = repl + p[len(prefix) :]
            low = p.lower()
            break
    if low.startswith("registry::"):
        from winhost.engine.model import normalize_registry_path

        return normalize_registry_path(p)
    if ":" not in p.split("\\", 1)[0]:
        base = call.ctx.location
        p = base.rstrip("\\") + "\\" + p if p and not p.startswith("\\") else (base.split("\\", 1)[0] + p)
    drive, _, rest = p.partition(":")
    parts: list[str] = []
    for part in rest.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    for provider in PROVIDERS:
        for d in provider.drives:
            if d.lower() == drive.lower():
                drive = d
    return f"{drive}:\\" + "\\".join(parts)


def provider_for(call: CommandCall, path: str) -> tuple[Provider, str, str]:
    """(provider, normalized path, drive name)."""
    norm = normalize_path(call, path)
    drive = norm.split(":", 1)[0]
    for provider in PROVIDERS:
        if any(d.lower() == drive.lower() for d in provider.drives):
            return provider, norm, drive
    raise call.fail(
        f"Cannot find drive. A drive with the name '{drive}' does not exist.",
        "DriveNotFound",
        ErrorCategory.ObjectNotFound,
        target=drive,
        exception_type="System.Management.Automation.DriveNotFoundException",
    )


def not_found(call: CommandCall, path: str, error_id: str = "PathNotFound") -> None:
    call.error(
        f"Cannot find path '{path}' because it does not exist.",
        error_id,
        ErrorCategory.ObjectNotFound,
        target=path,
        exception_type="System.Management.Automation.ItemNotFoundException",
    )


def _paths(call: CommandCall, name: str = "Path") -> list[str]:
    values = call.strings(name)
    if values is None and call.has("LiteralPath"):
        values = call.strings("LiteralPath")
    if values is None:
        values = []
        for item in call.input():
            pspath = getattr(item, "PSPath", None) if isinstance(item, PSObject) else None
            values.append(to_string(pspath if pspath else getattr(item, "FullName", None) or item))
    return values


def _expand_wildcards(call: CommandCall, provider: Provider, norm: str) -> list[str]:
    """Expand ``*``/``?`` in any path component against the provider's children."""
    if not contains_wildcards(norm) or call.has("LiteralPath"):
        return [norm]
    drive, _, rest = norm.partition(":\\")
    current = [f"{drive}:\\"]
    for part in [p for p in rest.split("\\") if p]:
        following: list[str] = []
        for base in current:
            joined = base + part if base.endswith("\\") else f"{base}\\{part}"
            if not contains_wildcards(part):
                following.append(joined)
                continue
            try:
                children = provider.child_items(call, base, False)
            except ItemNotFound:
                continue
            for child in children:
                name = to_string(getattr(child, "PSChildName", ""))
                if like(name, part):
                    following.append(base + name if base.endswith("\\") else f"{base}\\{name}")
        current = following
    return current


_PATH_PARAMS = [
    Param("Path", position=0),
    Param("LiteralPath", aliases=("PSPath", "LP")),
    Param("Force", switch=True),
    Param("Filter"),
    Param("Include"),
    Param("Exclude"),
    Param("Credential"),
]


@cmdlet("Get-Item", [*_PATH_PARAMS, Param("Stream")], module=MANAGEMENT, aliases=("gi",))
def get_item(call: CommandCall) -> Iterator[Any]:
    for path in _paths(call):
        provider, norm, drive = provider_for(call, path)
        targets = _expand_wildcards(call, provider, norm)
        if not targets:
            not_found(call, path)
        for target in targets:
            try:
                item = provider.get_item(call, target)
            except ItemNotFound:
                not_found(call, path)
                continue
            yield provider.decorate(item, target, provider.is_container(call, target), drive)


@cmdlet(
    "Get-ChildItem",
    [
        *_PATH_PARAMS,
        Param("Recurse", switch=True),
        Param("Name", switch=True),
        Param("Directory", switch=True),
        Param("File", switch=True),
        Param("Depth"),
        Param("Hidden", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("gci", "dir", "ls"),
)
def get_child_item(call: CommandCall) -> Iterator[Any]:
    paths = call.strings("Path") or call.strings("LiteralPath") or [call.ctx.location]
    for path in paths:
        provider, norm, drive = provider_for(call, path)
        try:
            if contains_wildcards(norm):
                items = []
                for target in _expand_wildcards(call, provider, norm):
                    if provider.is_container(call, target):
                        items.extend(provider.child_items(call, target, call.switch("Recurse")))
                    else:
                        items.append(provider.decorate(provider.get_item(call, target), target, False, drive))
            elif provider.exists(call, norm) and not provider.is_container(call, norm):
                items = [provider.decorate(provider.get_item(call, norm), norm, False, drive)]
            else:
                items = provider.child_items(call, norm, call.switch("Recurse"))
        except ItemNotFound:
            not_found(call, path)
            continue
        flt = call.string("Filter")
        include = call.strings("Include")
        exclude = call.strings("Exclude") or []
        for item in items:
            name = to_string(getattr(item, "PSChildName", ""))
            if flt and not like(name, flt):
                continue
            if include and not any(like(name, i) for i in include):
                continue
            if any(like(name, e) for e in exclude):
                continue
            is_dir = bool(getattr(item, "PSIsContainer", False))
            if (call.switch("Directory") and not is_dir) or (call.switch("File") and is_dir):
                continue
            yield name if call.switch("Name") else item


@cmdlet(
    "Set-Item",
    [
        *_PATH_PARAMS,
        Param("Value", position=1),
        Param("PassThru", switch=True),
        Param("WhatIf", switch=True),
        Param("Confirm", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("si",),
)
def set_item(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, drive = provider_for(call, path)
        if not call.should_process(path, "Set Item"):
            continue
        try:
            provider.set_item(call, norm, call.get("Value"))
        except ItemNotFound:
            not_found(call, path)
            continue
        if call.switch("PassThru"):
            yield provider.decorate(
                provider.get_item(call, norm), norm, provider.is_container(call, norm), drive
            )


@cmdlet(
    "New-Item",
    [
        Param("Path", position=0),
        Param("Name"),
        Param("ItemType", aliases=("Type",)),
        Param("Value"),
        Param("Force", switch=True),
        Param("Credential"),
        # WSMan provider dynamic parameters (about_WSMan_Provider)
        Param("Address"),
        Param("Transport"),
        Param("HostName"),
        Param("CertificateThumbPrint"),
        Param("Port"),
        Param("URLPrefix"),
        Param("Enabled"),
    ],
    module=MANAGEMENT,
    aliases=("ni",),
)
def new_item(call: CommandCall) -> Iterator[Any]:
    paths = call.strings("Path") or [call.ctx.location]
    for path in paths:
        full = path.rstrip("\\") + "\\" + (call.string("Name") or "") if call.has("Name") else path
        provider, norm, drive = provider_for(call, full)
        if not call.should_process(f"Destination: {norm}", "Create Item"):
            continue
        item = provider.new_item(call, norm, call.string("ItemType"), call.get("Value"))
        if item is not None:
            yield provider.decorate(item, norm, provider.is_container(call, norm), drive)


@cmdlet(
    "Remove-Item",
    [
        *_PATH_PARAMS,
        Param("Recurse", switch=True),
        Param("WhatIf", switch=True),
        Param("Confirm", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("ri", "rm", "del", "rmdir", "erase"),
)
def remove_item(call: CommandCall) -> Iterator[Any]:
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        targets = _expand_wildcards(call, provider, norm)
        if not targets or not all(provider.exists(call, t) for t in targets):
            not_found(call, path)
            continue
        for target in targets:
            if call.should_process(target, "Remove Item"):
                try:
                    provider.remove_item(call, target, call.switch("Recurse"))
                except ItemNotFound:
                    not_found(call, path)
    return iter(())


@cmdlet(
    "Test-Path",
    [
        Param("Path", position=0),
        Param("LiteralPath", aliases=("PSPath",)),
        Param("PathType", aliases=("Type",)),
        Param("IsValid", switch=True),
        Param("Credential"),
        Param("Include"),
        Param("Exclude"),
        Param("Filter"),
    ],
    module=MANAGEMENT,
)
def test_path(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        if call.switch("IsValid"):
            yield True
            continue
        try:
            provider, norm, _drive = provider_for(call, path)
        except Exception:
            yield False
            continue
        targets = _expand_wildcards(call, provider, norm)
        exists = bool(targets) and all(provider.exists(call, t) for t in targets)
        kind = (call.string("PathType") or "Any").lower()
        if exists and kind == "container":
            exists = all(provider.is_container(call, t) for t in targets)
        elif exists and kind == "leaf":
            exists = not any(provider.is_container(call, t) for t in targets)
        yield exists


@cmdlet(
    "Copy-Item",
    [
        Param("Path", position=0),
        Param("Destination", position=1),
        Param("LiteralPath"),
        Param("Recurse", switch=True),
        Param("Force", switch=True),
        Param("PassThru", switch=True),
        Param("Container", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("copy", "cp", "cpi"),
)
def copy_item(call: CommandCall) -> Iterator[Any]:
    dest = call.string("Destination") or call.ctx.location
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        dprov, dnorm, _ = provider_for(call, dest)
        if dprov is not provider:
            raise not_emulated("copying between providers")
        if not provider.exists(call, norm):
            not_found(call, path)
            continue
        provider.copy_item(call, norm, dnorm, call.switch("Recurse"))
    return iter(())


@cmdlet(
    "Move-Item",
    [
        Param("Path", position=0),
        Param("Destination", position=1),
        Param("LiteralPath"),
        Param("Force", switch=True),
        Param("PassThru", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("move", "mv", "mi"),
)
def move_item(call: CommandCall) -> Iterator[Any]:
    dest = call.string("Destination") or call.ctx.location
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        _dprov, dnorm, _ = provider_for(call, dest)
        if not provider.exists(call, norm):
            not_found(call, path)
            continue
        provider.move_item(call, norm, dnorm)
    return iter(())


@cmdlet(
    "Rename-Item",
    [
        Param("Path", position=0),
        Param("NewName", position=1),
        Param("Force", switch=True),
        Param("PassThru", switch=True),
    ],
    module=MANAGEMENT,
    aliases=("ren", "rni"),
)
def rename_item(call: CommandCall) -> Iterator[Any]:
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        parent = norm.rpartition("\\")[0]
        provider.move_item(call, norm, parent + "\\" + (call.string("NewName") or ""))
    return iter(())


# -- properties ---------------------------------------------------------------------------------


@cmdlet(
    "Get-ItemProperty",
    [
        Param("Path", position=0),
        Param("Name", position=1),
        Param("LiteralPath"),
        Param("Filter"),
        Param("Include"),
        Param("Exclude"),
    ],
    module=MANAGEMENT,
    aliases=("gp",),
)
def get_item_property(call: CommandCall) -> Iterator[Any]:
    for path in _paths(call):
        provider, norm, drive = provider_for(call, path)
        try:
            obj = provider.get_properties(call, norm, call.strings("Name"))
        except ItemNotFound:
            not_found(call, path)
            continue
        if obj is not None:
            yield provider.decorate(obj, norm, True, drive)


@cmdlet(
    "Get-ItemPropertyValue",
    [Param("Path", position=0), Param("Name", position=1), Param("LiteralPath")],
    module=MANAGEMENT,
    aliases=("gpv",),
)
def get_item_property_value(call: CommandCall) -> Iterator[Any]:
    names = call.strings("Name") or []
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        try:
            obj = provider.get_properties(call, norm, names)
        except ItemNotFound:
            not_found(call, path)
            continue
        if obj is None:
            continue
        for name in names:
            yield getattr(obj, name)


def _property_kind(call: CommandCall) -> str | None:
    kind = call.string("PropertyType") or call.string("Type")
    return kind


@cmdlet(
    "Set-ItemProperty",
    [
        Param("Path", position=0),
        Param("Name", position=1),
        Param("Value", position=2),
        Param("LiteralPath"),
        Param("Type"),
        Param("PassThru", switch=True),
        Param("Force", switch=True),
        Param("InputObject"),
    ],
    module=MANAGEMENT,
    aliases=("sp",),
)
def set_item_property(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, drive = provider_for(call, path)
        if not call.should_process(f"Item: {norm} Property: {call.string('Name')}", "Set Property"):
            continue
        try:
            result = provider.set_property(
                call, norm, call.string("Name") or "", call.get("Value"), _property_kind(call), create=False
            )
        except ItemNotFound:
            not_found(call, path)
            continue
        if call.switch("PassThru") and result is not None:
            yield provider.decorate(result, norm, True, drive)


@cmdlet(
    "New-ItemProperty",
    [
        Param("Path", position=0),
        Param("Name", position=1),
        Param("Value"),
        Param("PropertyType", aliases=("Type",)),
        Param("LiteralPath"),
        Param("Force", switch=True),
    ],
    module=MANAGEMENT,
)
def new_item_property(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, drive = provider_for(call, path)
        try:
            result = provider.set_property(
                call, norm, call.string("Name") or "", call.get("Value"), _property_kind(call), create=True
            )
        except ItemNotFound:
            not_found(call, path)
            continue
        if result is not None:
            yield provider.decorate(result, norm, True, drive)


@cmdlet(
    "Remove-ItemProperty",
    [Param("Path", position=0), Param("Name", position=1), Param("LiteralPath"), Param("Force", switch=True)],
    module=MANAGEMENT,
    aliases=("rp",),
)
def remove_item_property(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, _drive = provider_for(call, path)
        for name in call.strings("Name") or []:
            try:
                provider.remove_property(call, norm, name)
            except ItemNotFound:
                not_found(call, path)
    return iter(())


# -- content ------------------------------------------------------------------------------------


@cmdlet(
    "Get-Content",
    [
        Param("Path", position=0),
        Param("LiteralPath", aliases=("PSPath",)),
        Param("Raw", switch=True),
        Param("Encoding"),
        Param("TotalCount", aliases=("First", "Head")),
        Param("Tail"),
        Param("ReadCount"),
    ],
    module=MANAGEMENT,
    aliases=("gc", "cat", "type"),
)
def get_content(call: CommandCall) -> Iterator[Any]:
    for path in _paths(call):
        provider, norm, _drive = provider_for(call, path)
        try:
            content = provider.get_content(call, norm, call.switch("Raw"), call.string("Encoding"))
        except ItemNotFound:
            not_found(call, path)
            continue
        if isinstance(content, list):
            if call.has("TotalCount"):
                content = content[: int(call.get("TotalCount"))]
            if call.has("Tail"):
                content = content[-int(call.get("Tail")) :]
            yield from content
        else:
            yield content


def _content_values(call: CommandCall) -> list[Any]:
    if call.has("Value"):
        return as_list(call.get("Value"))
    return list(call.input())


_CONTENT_PARAMS = [
    Param("Path", position=0),
    Param("Value", position=1),
    Param("LiteralPath", aliases=("PSPath",)),
    Param("Encoding"),
    Param("NoNewline", switch=True),
    Param("Force", switch=True),
    Param("PassThru", switch=True),
]


@cmdlet("Set-Content", _CONTENT_PARAMS, module=MANAGEMENT, aliases=("sc",))
def set_content(call: CommandCall) -> Iterator[Any]:
    values = _content_values(call)
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, _drive = provider_for(call, path)
        if call.should_process(f"Path: {norm}", "Set Content"):
            provider.set_content(call, norm, values, False, call.string("Encoding"), call.switch("NoNewline"))
    return iter(())


@cmdlet("Add-Content", _CONTENT_PARAMS, module=MANAGEMENT, aliases=("ac",))
def add_content(call: CommandCall) -> Iterator[Any]:
    values = _content_values(call)
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, _drive = provider_for(call, path)
        provider.set_content(call, norm, values, True, call.string("Encoding"), call.switch("NoNewline"))
    return iter(())


@cmdlet(
    "Clear-Content",
    [Param("Path", position=0), Param("Force", switch=True)],
    module=MANAGEMENT,
    aliases=("clc",),
)
def clear_content(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or []:
        provider, norm, _drive = provider_for(call, path)
        provider.set_content(call, norm, [], False, None, True)
    return iter(())


# -- location -----------------------------------------------------------------------------------


def _path_info(call: CommandCall, path: str) -> Any:
    drive = path.split(":", 1)[0]
    provider = next((p for p in PROVIDERS if drive in p.drives), None)
    return new_object(
        ["System.Management.Automation.PathInfo", "System.Object"],
        {
            "Drive": drive,
            "Provider": f"{provider.module}\\{provider.name}" if provider else "",
            "ProviderPath": path,
            "Path": path,
        },
        to_string_value=path,
    )


@cmdlet(
    "Get-Location",
    [Param("PSProvider"), Param("PSDrive"), Param("Stack", switch=True)],
    module=MANAGEMENT,
    aliases=("gl", "pwd"),
)
def get_location(call: CommandCall) -> Iterator[Any]:
    yield _path_info(call, call.ctx.location)


@cmdlet(
    "Set-Location",
    [Param("Path", position=0), Param("LiteralPath"), Param("PassThru", switch=True)],
    module=MANAGEMENT,
    aliases=("cd", "sl", "chdir"),
)
def set_location(call: CommandCall) -> Iterator[Any]:
    path = call.string("Path") or call.string("LiteralPath") or call.scope.get("HOME")
    provider, norm, _drive = provider_for(call, path)
    if not provider.exists(call, norm) or not provider.is_container(call, norm):
        raise call.fail(
            f"Cannot find path '{path}' because it does not exist.",
            "PathNotFound",
            ErrorCategory.ObjectNotFound,
            target=path,
            exception_type="System.Management.Automation.ItemNotFoundException",
        )
    call.ctx.location = norm
    if call.switch("PassThru"):
        yield _path_info(call, norm)


_STACKS = "__location_stacks"  # runspace-global: stack name ("" = default) -> locations


def _stacks(call: CommandCall) -> dict[str, list[str]]:
    root = call.scope.root()
    stacks = root.get(_STACKS)
    if stacks is None:
        stacks = {}
        root.set(_STACKS, stacks)
    return stacks


@cmdlet(
    "Push-Location",
    [Param("Path", position=0), Param("LiteralPath"), Param("StackName"), Param("PassThru", switch=True)],
    module=MANAGEMENT,
    aliases=("pushd",),
)
def push_location(call: CommandCall) -> Iterator[Any]:
    """Push-Location (https://learn.microsoft.com/powershell/module/microsoft.powershell.management/push-location):
    the current location goes on the stack (the default one, or -StackName), then the location
    changes to -Path/-LiteralPath when given, failing as Set-Location does."""
    current = call.ctx.location
    target = call.string("Path") or call.string("LiteralPath")
    if target is not None:
        provider, norm, _drive = provider_for(call, target)
        if not provider.exists(call, norm) or not provider.is_container(call, norm):
            raise call.fail(
                f"Cannot find path '{target}' because it does not exist.",
                "PathNotFound",
                ErrorCategory.ObjectNotFound,
                target=target,
                exception_type="System.Management.Automation.ItemNotFoundException",
            )
        call.ctx.location = norm
    _stacks(call).setdefault(call.string("StackName") or "", []).append(current)
    if call.switch("PassThru"):
        yield _path_info(call, call.ctx.location)


@cmdlet(
    "Pop-Location",
    [Param("StackName"), Param("PassThru", switch=True)],
    module=MANAGEMENT,
    aliases=("popd",),
)
def pop_location(call: CommandCall) -> Iterator[Any]:
    """Pop-Location: back to the location last pushed on the stack. An empty default stack does
    nothing; a -StackName that does not exist is an error."""
    name = call.string("StackName") or ""
    stack = _stacks(call).get(name)
    if name and stack is None:
        raise call.fail(
            f"Cannot find location stack '{name}'. It does not exist or it is not a container.",
            "Argument",
            ErrorCategory.InvalidArgument,
            target=name,
            exception_type="System.Management.Automation.PSArgumentException",
        )
    if not stack:
        return
    call.ctx.location = stack.pop()
    if call.switch("PassThru"):
        yield _path_info(call, call.ctx.location)


@cmdlet(
    "Resolve-Path",
    [Param("Path", position=0), Param("LiteralPath"), Param("Relative", switch=True)],
    module=MANAGEMENT,
    aliases=("rvpa",),
)
def resolve_path(call: CommandCall) -> Iterator[Any]:
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        provider, norm, _drive = provider_for(call, path)
        targets = _expand_wildcards(call, provider, norm)
        if not targets or not all(provider.exists(call, t) for t in targets):
            not_found(call, path)
            continue
        for t in targets:
            yield _path_info(call, t)


# -- Env: drive ---------------------------------------------------------------------------------


class EnvironmentProvider(Provider):
    name = "Environment"
    module = "Microsoft.PowerShell.Core"
    drives = ("Env",)

    def _entry(self, name: str, value: str) -> Any:
        return new_object(
            ["System.Collections.DictionaryEntry", "System.ValueType", "System.Object"],
            {"Name": name, "Key": name, "Value": value},
            to_string_value="System.Collections.DictionaryEntry",
        )

    def is_container(self, call: CommandCall, path: str) -> bool:
        return self.provider_path(path) == ""

    def get_item(self, call: CommandCall, path: str) -> Any:
        name = self.provider_path(path)
        env = CIDict(call.ctx.env_items())
        if name == "":
            return new_object(
                ["System.Management.Automation.PSDriveInfo"], {"Name": "Env"}, to_string_value="Env"
            )
        if name not in env:
            raise ItemNotFound(path)
        key = next(k for k in env if k.lower() == name.lower())
        return self._entry(key, env[name])

    def child_items(self, call: CommandCall, path: str, recurse: bool) -> list[Any]:
        env = call.ctx.env_items()
        return [self.decorate(self._entry(k, v), f"Env:\\{k}", False, "Env") for k, v in sorted(env.items())]

    def set_item(self, call: CommandCall, path: str, value: Any) -> None:
        call.ctx.env_set(self.provider_path(path), value)

    def new_item(self, call: CommandCall, path: str, item_type: str | None, value: Any) -> Any:
        self.set_item(call, path, value)
        return self.get_item(call, path)

    def remove_item(self, call: CommandCall, path: str, recurse: bool) -> None:
        call.ctx.env_set(self.provider_path(path), None)

    def get_content(self, call: CommandCall, path: str, raw: bool, encoding: str | None) -> Any:
        return self.get_item(call, path).Value


register_provider(EnvironmentProvider())
_ = enumerate_value


# -- path manipulation ------------------------------------------------------------------------


@cmdlet(
    "Split-Path",
    [
        Param("Path", position=0),
        Param("Leaf", switch=True),
        Param("Parent", switch=True),
        Param("Qualifier", switch=True),
        Param("NoQualifier", switch=True),
        Param("IsAbsolute", switch=True),
        Param("Resolve", switch=True),
        Param("LiteralPath"),
    ],
    module=MANAGEMENT,
)
def split_path(call: CommandCall) -> Iterator[Any]:
    """https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.management/split-path"""
    for path in call.strings("Path") or call.strings("LiteralPath") or []:
        p = path.replace("/", "\\")
        qualifier, sep, rest = p.partition(":")
        if call.switch("Qualifier"):
            yield qualifier + ":" if sep else ""
        elif call.switch("NoQualifier"):
            yield rest if sep else p
        elif call.switch("IsAbsolute"):
            yield (bool(sep) and rest.startswith("\\")) or p.startswith("\\\\")
        elif call.switch("Leaf"):
            yield p.rstrip("\\").rsplit("\\", 1)[-1]
        else:
            parent = p.rstrip("\\").rpartition("\\")[0]
            yield parent + "\\" if parent.endswith(":") else parent


@cmdlet(
    "Join-Path",
    [
        Param("Path", position=0),
        Param("ChildPath", position=1),
        Param("AdditionalChildPath", position=2, value_from_remaining=True),
        Param("Resolve", switch=True),
    ],
    module=MANAGEMENT,
)
def join_path(call: CommandCall) -> Iterator[Any]:
    children = [
        call.string("ChildPath") or "",
        *(to_string(c) for c in as_list(call.get("AdditionalChildPath"))),
    ]
    for base in call.strings("Path") or []:
        joined = base.replace("/", "\\")
        for child in children:
            if child:
                joined = joined.rstrip("\\") + "\\" + child.replace("/", "\\").lstrip("\\")
        yield joined


@cmdlet(
    "Out-File",
    [
        Param("FilePath", position=0, aliases=("Path",)),
        Param("Encoding", position=1),
        Param("Append", switch=True),
        Param("Force", switch=True),
        Param("NoNewline", switch=True),
        Param("InputObject"),
        Param("Width"),
        Param("LiteralPath"),
    ],
    module="Microsoft.PowerShell.Utility",
)
def out_file(call: CommandCall) -> Iterator[Any]:
    """Writes the objects' text; Windows PowerShell 5.1 defaults to UTF-16LE ("Unicode")."""
    values = list(call.each("InputObject"))
    path = call.string("FilePath") or call.string("LiteralPath") or ""
    provider, norm, _drive = provider_for(call, path)
    provider.set_content(
        call,
        norm,
        values,
        call.switch("Append"),
        call.string("Encoding") or "Unicode",
        call.switch("NoNewline"),
    )
    return iter(())
