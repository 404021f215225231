"""ansible.windows.win_stat: file facts from the sandbox.

Source: ansible-collections/ansible.windows plugins/modules/win_stat.ps1 and its RETURN docs:
``stat.exists`` only when missing; otherwise attributes, isarchive/isdir/ishidden/isjunction/islnk/
isreadonly/isreg/isshared, nlink, hlnk_targets, creation/lastaccess/lastwrite time (seconds since
the epoch), path, filename, owner; files add extension, checksum (lower-case hex, default sha1) and
size; directories add size (sum of all files below).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec
from winhost.engine.ansible_modules._winpath import WinPathError


def file_checksum(path: os.PathLike[str] | str, algorithm: str = "sha1") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run(ctx: ModuleContext) -> dict[str, Any]:
    path = ctx.params["path"]
    try:
        real = ctx.fs.real(path)
    except WinPathError:
        return {"stat": {"exists": False}}
    if not real.exists():
        return {"stat": {"exists": False}}
    st = real.stat()
    is_dir = real.is_dir()
    name = ctx.fs.full_name(path).rstrip("\\").split("\\")[-1] or "C:\\"
    stat: dict[str, Any] = {
        "exists": True,
        "attributes": "Directory" if is_dir else "Archive",
        "isarchive": not is_dir,
        "isdir": is_dir,
        "ishidden": False,
        "isjunction": False,
        "islnk": False,
        "isreadonly": False,
        "isreg": not is_dir,
        "isshared": False,
        "nlink": 1,
        "hlnk_targets": [],
        "creationtime": st.st_ctime,
        "lastaccesstime": st.st_atime,
        "lastwritetime": st.st_mtime,
        "path": ctx.fs.full_name(path),
        "filename": name,
        "owner": "BUILTIN\\Administrators",
    }
    if is_dir:
        if ctx.params["get_size"]:
            stat["size"] = sum(p.stat().st_size for p in real.rglob("*") if p.is_file())
    else:
        stat["extension"] = os.path.splitext(name)[1]
        if ctx.params["get_checksum"]:
            try:
                stat["checksum"] = file_checksum(real, ctx.params["checksum_algorithm"])
            except OSError as exc:
                raise ModuleFail(
                    "Failed to get hash of file, set get_checksum to False to ignore this error: "
                    f"{exc.strerror}"
                ) from None
        if ctx.params["get_size"]:
            stat["size"] = st.st_size
    return {"stat": stat}


SPEC = ModuleSpec(
    name="win_stat",
    run=run,
    options={
        "path": {"type": "path", "required": True, "aliases": ["dest", "name"]},
        "get_checksum": {"type": "bool", "default": True},
        "get_size": {"type": "bool", "default": True},
        "checksum_algorithm": {
            "type": "str",
            "default": "sha1",
            "choices": ["md5", "sha1", "sha256", "sha384", "sha512"],
        },
        "follow": {"type": "bool", "default": False},
    },
    fingerprints=("get_checksum", "checksum_algorithm", "get-filechecksum"),
)
