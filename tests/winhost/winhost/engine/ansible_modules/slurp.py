"""ansible.windows.slurp: base64 content of a file (used by ``fetch`` and ``slurp`` on Windows).

Source: ansible-collections/ansible.windows plugins/modules/slurp.ps1 (returns ``content``
base64 and ``encoding`` "base64"; fails "Path ... is a directory" / "Path ... is not found").
"""

from __future__ import annotations

import base64
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec


def run(ctx: ModuleContext) -> dict[str, Any]:
    src = ctx.params["src"]
    real = ctx.fs.real(src)
    if real.is_file():
        return {"content": base64.b64encode(real.read_bytes()).decode(), "encoding": "base64"}
    if real.is_dir():
        raise ModuleFail(f"Path {src} is a directory")
    raise ModuleFail(f"Path {src} is not found")


SPEC = ModuleSpec(
    name="slurp",
    run=run,
    options={"src": {"type": "path", "required": True, "aliases": ["path"]}},
    style="legacy",
    fingerprints=('-name "src"', "$result.content = [system.convert]::tobase64string"),
)
