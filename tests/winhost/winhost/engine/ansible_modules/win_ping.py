"""ansible.windows.win_ping: ``ping`` = ``data`` (default ``pong``); ``data=crash`` throws "boom".

Source: ansible-collections/ansible.windows plugins/modules/win_ping.ps1 (``throw "boom"`` for
``crash``, which module_wrapper.ps1 reports as "Unhandled exception while executing module: boom").
"""

from __future__ import annotations

from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleCrash, ModuleSpec


def run(ctx: ModuleContext) -> dict[str, Any]:
    data = ctx.params["data"]
    if data == "crash":
        raise ModuleCrash("boom")
    return {"ping": data}


SPEC = ModuleSpec(
    name="win_ping",
    run=run,
    options={"data": {"type": "str", "default": "pong"}},
    fingerprints=('default = "pong"', "$module.result.ping"),
)
