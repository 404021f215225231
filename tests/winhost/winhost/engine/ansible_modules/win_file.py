"""ansible.windows.win_file: state file/directory/absent/touch in the sandbox.

Source: ansible-collections/ansible.windows plugins/modules/win_file.ps1 (Legacy module util:
result ``{"changed": ...}`` only; failures "path X is not a directory", "path X is not a file",
"path X will not be created"; check mode changes nothing but reports the change).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleCrash, ModuleFail, ModuleSpec


def _touch(ctx: ModuleContext, path: str, real: Path) -> None:
    """``state: touch``: update the times of a file, or create it in an existing folder."""
    if real.exists():
        if not ctx.check_mode:
            now = time.time()
            os.utime(real, (now, now))
        return
    if not real.parent.is_dir():
        raise ModuleCrash(f"Could not find a part of the path '{ctx.fs.full_name(path)}'.")
    if not ctx.check_mode:
        real.touch()


def _existing(ctx: ModuleContext, path: str, real: Path, state: str | None, changed: bool) -> bool:
    """The path exists: remove it for ``absent``, check its kind for ``directory``/``file``."""
    if state == "absent":
        if not ctx.check_mode:
            if real.is_dir() and not real.is_symlink():
                shutil.rmtree(real)
            else:
                real.unlink()
        return True
    if state == "directory" and not real.is_dir():
        raise ModuleFail(f"path {path} is not a directory", changed=changed)
    if state == "file" and real.is_dir():
        raise ModuleFail(f"path {path} is not a file", changed=changed)
    return changed


def _missing(ctx: ModuleContext, path: str, real: Path, state: str | None, changed: bool) -> bool:
    """The path does not exist: create a folder for ``directory`` (or a path without a file
    name when no state is given); a file is never created."""
    if state is None:
        state = "file" if path.rstrip().split("\\")[-1] else "directory"
    if state == "directory":
        if not ctx.check_mode:
            real.mkdir(parents=True, exist_ok=True)
        return True
    if state == "file":
        raise ModuleFail(f"path {path} will not be created", changed=changed)
    return changed


def run(ctx: ModuleContext) -> dict[str, Any]:
    path: str = ctx.params["path"]
    state: str | None = ctx.params["state"]
    original = ctx.params.get("_original_basename")
    if ctx.fs.real(path).is_dir() and original is not None:
        path = path.rstrip("\\/") + "\\" + str(original)
    real = ctx.fs.real(path)
    changed = False
    if state == "touch":
        _touch(ctx, path, real)
        changed = True
    if real.exists():
        changed = _existing(ctx, path, real, state, changed)
    else:
        changed = _missing(ctx, path, real, state, changed)
    return {"changed": changed}


SPEC = ModuleSpec(
    name="win_file",
    run=run,
    style="legacy",
    options={
        "path": {"type": "path", "required": True, "aliases": ["dest", "name"]},
        "state": {"type": "str", "choices": ["absent", "directory", "file", "touch"]},
        "_original_basename": {"type": "str"},
    },
    fingerprints=('"absent", "directory", "file", "touch"', "symlinkhelper"),
)
