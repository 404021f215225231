"""ansible.windows.async_status: the state of an async job from its results file.

Source: ansible-collections/ansible.windows plugins/modules/async_status.ps1 (Legacy util):
``<_async_dir>\\<jid>`` missing fails "could not find job at '<_async_dir>'"; ``mode=cleanup``
removes it and returns ``erased``; an empty file is a job still starting ({results_file,
ansible_job_id, started 1, finished 0}); a file that is not JSON fails "Could not parse job
output"; otherwise its JSON, with ``finished`` 1 and the job id when it has no ``started``, or
``finished`` 0 when it has ``started`` but no ``finished``. The action plugin turns started and
finished into booleans.
"""

from __future__ import annotations

import json
from typing import Any

from winhost.engine.ansible_modules import ModuleContext, ModuleFail, ModuleSpec


def run(ctx: ModuleContext) -> dict[str, Any]:
    jid, mode, async_dir = ctx.params["jid"], ctx.params["mode"], ctx.params["_async_dir"]
    log_path = f"{str(async_dir).rstrip(chr(92))}\\{jid}"
    real = ctx.fs.real(log_path)
    if not real.exists():
        raise ModuleFail(f"could not find job at '{async_dir}'", ansible_job_id=jid, started=1, finished=1)
    if mode == "cleanup":
        real.unlink()
        return {"ansible_job_id": jid, "erased": log_path}
    raw = real.read_text(encoding="utf-8-sig").strip()
    if not raw:
        return {"results_file": log_path, "ansible_job_id": jid, "started": 1, "finished": 0}
    try:
        data: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise ModuleFail(
            "Could not parse job output: ", ansible_job_id=jid, results_file=log_path, started=1, finished=1
        ) from None
    if "started" not in data:
        data.update(finished=1, ansible_job_id=jid)
    elif "finished" not in data:
        data["finished"] = 0
    return data


SPEC = ModuleSpec(
    name="async_status",
    run=run,
    style="legacy",
    options={
        "jid": {"type": "str", "required": True},
        "mode": {"type": "str", "default": "status", "choices": ["status", "cleanup"]},
        "_async_dir": {"type": "path", "required": True},
    },
    fingerprints=("$async_dir", "could not find job at"),
)
