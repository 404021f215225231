"""ansible.windows.win_file: state file/directory/absent/touch in the sandbox.

Source: ansible-collections/ansible.windows plugins/modules/win_file.ps1 (Legacy module util:
result ``{"changed": ...}`` only; failures "path X is not a directory", "path X is not a file",
"path X will not be created"; check mode changes nothing but reports the change).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleCrash, ModuleFail, ModuleSpec


def run(ctx: ModuleContext) -> dict[str, Any]:
    path: str = ctx.params["path"]
    state: str | None = ctx.params["state"]
    check = ctx.check_mode
    fs = ctx.fs
    original = ctx.params.get("_original_basename")
    if fs.real(path).is_dir() and original is not None:
        path = path.rstrip("\\/") + "\\" + str(original)
    real = fs.real(path)
    changed = False

    if state == "touch":
        if real.exists():
            if not check:
                now = time.time()
                os.utime(real, (now, now))
        else:
            if not real.parent.is_dir():
                raise ModuleCrash(f"Could not find a part of the path '{fs.full_name(path)}'.")
            if not check:
                real.touch()
        changed = True

    if real.exists():
        if state == "absent":
            if not check:
                if real.is_dir() and not real.is_symlink():
                    shutil.rmtree(real)
                else:
                    real.unlink()
            changed = True
        elif state == "directory" and not real.is_dir():
            raise ModuleFail(f"path {path} is not a directory", changed=changed)
        elif state == "file" and real.is_dir():
            raise ModuleFail(f"path {path} is not a file", changed=changed)
    else:
        if state is None:
            state = "file" if path.rstrip().split("\\")[-1] else "directory"
        if state == "directory":
            if not check:
                real.mkdir(parents=True, exist_ok=True)
            changed = True
        elif state == "file":
            raise ModuleFail(f"path {path} will not be created", changed=changed)
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
