"""ansible.windows.win_copy, remote side (the action plugin drives it with ``_copy_mode``).

Source: ansible-collections/ansible.windows plugins/modules/win_copy.ps1 (Legacy util) and
plugins/action/win_copy.py: ``query`` returns the ``files``/``directories``/``symlinks`` that
differ from the controller's checksums, ``single`` copies one uploaded temp file to ``dest``,
``explode`` unpacks the uploaded zip (entry names are base64 of the UTF-8 path, directories end
in ``/``), ``remote`` copies on the host (``remote_src``).
"""

from __future__ import annotations

import base64
import shutil
import zipfile
from pathlib import Path
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec
from winhost.engine.ansible_modules.win_stat import file_checksum


def _join(parent: str, child: str) -> str:
    """``Join-Path``: one backslash between the parts."""
    return parent.rstrip("\\/") + "\\" + child.lstrip("\\/")


def _query(ctx: ModuleContext, result: dict[str, Any]) -> None:
    fs, dest, force = ctx.fs, ctx.params["dest"], ctx.params["force"]
    changed_files: list[Any] = []
    changed_dirs: list[Any] = []
    for entry in ctx.params["files"] or []:
        filename = str(entry.get("dest", ""))
        filepath = _join(dest, filename)
        if fs.real(filepath).is_dir():
            filename = _join(filename, str(entry.get("src", "")).replace("/", "\\").split("\\")[-1])
            filepath = _join(dest, filename)
        real = fs.real(filepath)
        if real.is_file():
            if force and file_checksum(real) != entry.get("checksum"):
                changed_files.append(entry)
        elif real.is_dir():
            raise ModuleFail(f"cannot copy file to dest '{filepath}': object at path is already a directory")
        else:
            changed_files.append(entry)
    for entry in ctx.params["directories"] or []:
        dirpath = _join(dest, str(entry.get("dest", "")))
        real = fs.real(dirpath)
        if real.parent.is_file():
            raise ModuleFail(
                f"cannot copy folder to dest '{dirpath}': object at parent directory path is already a file"
            )
        if real.is_file():
            raise ModuleFail(f"cannot copy folder to dest '{dirpath}': object at path is already a file")
        if not real.is_dir():
            changed_dirs.append(entry)
    result.update(files=changed_files, directories=changed_dirs, symlinks=[])


def _prepare_dest(ctx: ModuleContext, dest: str, remote_dest: str) -> Path:
    fs = ctx.fs
    real = fs.real(remote_dest)
    parent_win = remote_dest.rstrip("\\").rsplit("\\", 1)[0]
    if real.parent.is_file():
        raise ModuleFail(f"object at destination parent dir '{parent_win}' is currently a file")
    if not real.parent.is_dir():
        if dest == remote_dest:
            raise ModuleFail(f"Destination directory '{parent_win}' does not exist")
        real.parent.mkdir(parents=True, exist_ok=True)
    return real


def _copy_file(ctx: ModuleContext, src: Path, dest: Path, dest_win: str, result: dict[str, Any]) -> str:
    checksum = file_checksum(src) if ctx.params["force"] else None
    if dest.is_dir():
        raise ModuleFail(
            f"cannot copy file from '{ctx.fs.to_windows(src)}' to '{dest_win}': dest is already a folder"
        )
    copy = not dest.exists() or (ctx.params["force"] and file_checksum(dest) != checksum)
    if copy:
        if not ctx.check_mode:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        result["changed"] = True
    return checksum or ""


def _explode(ctx: ModuleContext, result: dict[str, Any]) -> None:
    """``_copy_mode: explode``: unpack the zip the action plugin sent (entry names are base64)."""
    src, dest = ctx.params["src"], ctx.params["dest"]
    archive = ctx.fs.real(src)
    if not archive.is_file():
        raise ModuleFail(f"Cannot expand src zip file: '{src}' as it does not exist")
    target = ctx.fs.real(dest)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename
            is_dir = len(name) % 4 == 1 and name.endswith(("/", "\\"))
            decoded = base64.b64decode(name[:-1] if is_dir else name).decode("utf-8")
            entry_target = target.joinpath(*decoded.replace("\\", "/").split("/"))
            if ctx.check_mode:
                continue
            if is_dir:
                entry_target.mkdir(parents=True, exist_ok=True)
            else:
                entry_target.parent.mkdir(parents=True, exist_ok=True)
                entry_target.write_bytes(zf.read(info))
    result["changed"] = True


def _into(ctx: ModuleContext, dest: str, name: str) -> str:
    """A destination that is a folder (ends with a separator or exists) gets the file's name."""
    if dest.endswith(("/", "\\")) or ctx.fs.real(dest).is_dir():
        return _join(dest, name)
    return dest


def _single(ctx: ModuleContext, result: dict[str, Any]) -> None:
    """``_copy_mode: single``: move the uploaded temporary file into place (with backup)."""
    fs, src, dest = ctx.fs, ctx.params["src"], ctx.params["dest"]
    source = fs.real(src)
    if not source.is_file():
        raise ModuleFail(f"Cannot copy src file: '{src}' as it does not exist", **result)
    remote_dest = _into(ctx, dest, str(ctx.params.get("_original_basename") or ""))
    target = _prepare_dest(ctx, dest, remote_dest)
    if ctx.params["backup"] and target.is_file():
        result["backup_file"] = remote_dest + ".bak"
        if not ctx.check_mode:
            shutil.copyfile(target, fs.real(result["backup_file"]))
    if not ctx.check_mode:
        shutil.copyfile(source, target)
    result["changed"] = True


def _remote_folder(ctx: ModuleContext, source: Path, result: dict[str, Any]) -> int | None:
    fs, src, dest = ctx.fs, ctx.params["src"], ctx.params["dest"]
    result["operation"] = "folder_copy"
    remote_dest = dest if src.endswith(("/", "\\")) else _join(dest, source.name)
    result["dest"] = remote_dest
    for item in sorted(source.rglob("*")):
        target = fs.real(remote_dest).joinpath(*item.relative_to(source).parts)
        if not item.is_dir():
            _copy_file(ctx, item, target, fs.to_windows(target), result)
        elif not target.is_dir():
            if not ctx.check_mode:
                target.mkdir(parents=True, exist_ok=True)
            result["changed"] = True
    target_root = fs.real(remote_dest)
    if not target_root.is_dir():
        return None
    return sum(p.stat().st_size for p in target_root.rglob("*") if p.is_file())


def _remote_file(ctx: ModuleContext, source: Path, result: dict[str, Any]) -> int | None:
    dest = ctx.params["dest"]
    result["operation"] = "file_copy"
    result["original_basename"] = source.name
    remote_dest = _into(ctx, dest, source.name)
    result["dest"] = remote_dest
    target = _prepare_dest(ctx, dest, remote_dest)
    result["checksum"] = _copy_file(ctx, source, target, remote_dest, result)
    return target.stat().st_size if target.is_file() else None


def _remote(ctx: ModuleContext, result: dict[str, Any]) -> None:
    """``_copy_mode: remote`` (remote_src): copy a file or folder on the host."""
    src, dest = ctx.params["src"], ctx.params["dest"]
    result["src"], result["dest"] = src, dest
    source = ctx.fs.real(src)
    if not source.exists():
        raise ModuleFail(f"Cannot copy src file: '{src}' as it does not exist", **result)
    copy = _remote_folder if source.is_dir() else _remote_file
    result["size"] = copy(ctx, source, result)


_MODES = {"query": _query, "explode": _explode, "single": _single, "remote": _remote}


def run(ctx: ModuleContext) -> dict[str, Any]:
    mode = ctx.params["_copy_mode"]
    if mode in ("explode", "single") and not ctx.params["src"]:
        raise ModuleFail("Get-AnsibleParam: Missing required argument: src")
    result: dict[str, Any] = {"changed": False}
    if ctx.diff_mode:
        result["diff"] = {}
    _MODES.get(mode, _remote)(ctx, result)
    return result


SPEC = ModuleSpec(
    name="win_copy",
    run=run,
    style="legacy",
    options={
        "_copy_mode": {
            "type": "str",
            "default": "single",
            "choices": ["explode", "query", "remote", "single"],
        },
        "src": {"type": "path"},
        "dest": {"type": "path", "required": True},
        "backup": {"type": "bool", "default": False},
        "_original_basename": {"type": "str"},
        "force": {"type": "bool", "default": True},
        "files": {"type": "list"},
        "directories": {"type": "list"},
    },
    fingerprints=("_copy_mode", '"explode", "query", "remote", "single"'),
)
