"""Module payload cache (plugins/plugin_utils/psrp/_payload.py) end to end on winhost.

A warm exec-wrapper task sends the hashes of the code the session's runspace already holds plus
its arguments; winhost evaluates the cache function (PAYLOAD_DEFINITION) and answers Ansible's
bootstrap wrapper it pipes into. Costs are read from winhost's exact counters by difference
between runs that differ only by their last tasks, so the cold start cancels out.
"""

from __future__ import annotations

import importlib.resources
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import playbook_env, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="dc01")]

OURS = "psremoting.core.psrp"
SECRET = "Payload-Secret-4711"


def _run(winhost: Any, tmp_path: Path, tasks: str, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``tasks`` with our plugin; the task results and the host's counters for the run
    (read once the broker has deleted its shell)."""
    deadline = time.monotonic() + 120
    while winhost.stats("dc01")["shells_open"] and time.monotonic() < deadline:
        time.sleep(0.1)
    winhost.reset_stats("dc01")
    playbook = tmp_path / f"{name}.yml"
    playbook.write_text(
        "- hosts: dc01\n  gather_facts: false\n  tasks:\n" + textwrap.indent(textwrap.dedent(tasks), "    "),
        encoding="utf-8",
    )
    rc, data, out = run_playbook(
        winhost.inventory_path, playbook, "-e", f"ansible_connection={OURS}", env=playbook_env(winhost.env)
    )
    assert rc == 0, out
    results = [task["hosts"]["dc01"] for play in data["plays"] for task in play["tasks"]]
    deadline = time.monotonic() + 120
    while winhost.stats("dc01")["shells_open"] and time.monotonic() < deadline:
        time.sleep(0.1)
    return results, winhost.stats("dc01")


def _wire(stats: dict[str, Any]) -> int:
    return int(stats["bytes_in"]) + int(stats["bytes_out"])


def _critical(stats: dict[str, Any]) -> int:
    """Requests a task waits for: Command, Send (input / further fragments) and Receive."""
    requests = stats["wsman_requests"]
    return int(requests.get("Command", 0)) + int(requests.get("Send", 0)) + int(requests.get("Receive", 0))


@pytest.mark.runs_ps1("connection.payload_cache")
def test_warm_module_task_costs_about_a_raw_task(winhost: Any, tmp_path: Path) -> None:
    """Target of issue 18: a warm win_ping costs <= a warm raw task + 4 KB on the wire and <= 3
    waited-for requests (ansible.builtin.psrp sends the exec wrapper, module_utils and module,
    about 240 KB, with every task)."""
    base = "- raw: Write-Output 0\n- ansible.windows.win_ping:\n"
    more = 3
    _, cold = _run(winhost, tmp_path, base, "cold")
    raw_results, with_raw = _run(winhost, tmp_path, base + "- raw: Write-Output 1\n" * more, "raw")
    ping_results, with_ping = _run(
        winhost, tmp_path, base + "- ansible.windows.win_ping:\n    data: warm\n" * more, "ping"
    )
    assert [r["ping"] for r in ping_results[1:]] == ["pong"] + ["warm"] * more
    assert [r["stdout_lines"] for r in raw_results[2:]] == [["1"]] * more

    warm_raw = (_wire(with_raw) - _wire(cold)) / more
    warm_ping = (_wire(with_ping) - _wire(cold)) / more
    assert warm_ping <= warm_raw + 4096, (warm_raw, warm_ping)
    assert (_critical(with_ping) - _critical(cold)) / more <= 3
    # the whole cold payload went once: a warm task is a small fraction of the first one
    assert _wire(cold) > 10 * warm_ping
    assert with_ping["wsman_requests"]["Create"] == 1


@pytest.mark.runs_ps1("connection.payload_cache")
def test_lost_cache_is_resent_and_arguments_are_never_cached(winhost: Any, tmp_path: Path) -> None:
    """A runspace that lost the cache gets every piece again without a failed task; module
    arguments (no_log or not) never enter the cache."""
    tasks = f"""
    - ansible.windows.win_ping:
        data: {SECRET}
      no_log: true
    - raw: Remove-Variable -Name PSRemotingCorePayloadCache -Scope Global
    - ansible.windows.win_ping:
      register: after_loss
    - raw: ($global:PSRemotingCorePayloadCache.Pieces.Values) -join ''
      register: cache
    - raw: $global:PSRemotingCorePayloadCache.Pieces.Count
      register: count
    """
    results, stats = _run(winhost, tmp_path, tasks, "miss")
    assert results[2]["ping"] == "pong"
    assert not any(r.get("failed") for r in results)
    cached = results[3]["stdout"]
    assert "begin {" in cached  # the exec wrapper's code is there (every ansible-core)
    assert SECRET not in cached and "complex_args" not in cached
    # exec wrapper, bootstrap wrapper, module_wrapper, win_ping, Ansible.Basic, AddType; 2.16-2.18
    # also send module_powershell_wrapper; from 2.22 Ansible.Basic.cs uses Ansible.Secrets.cs
    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._command_line import MANIFEST_AS_LINES

    csharp = importlib.resources.files("ansible.module_utils.csharp")
    secrets = 1 if csharp.joinpath("Ansible.Secrets.cs").is_file() else 0
    assert int(results[4]["stdout_lines"][0]) == (6 if MANIFEST_AS_LINES else 7) + secrets
    # 5 tasks + one resend after the loss
    assert stats["wsman_requests"]["Command"] == 5 + 1


def _win_ping_command(data: str) -> tuple[str, list[str]]:
    """The bootstrap script and input lines ansible-core (2.19+) sends for win_ping."""
    module_manifest = pytest.importorskip("ansible.executor.powershell.module_manifest")
    if not hasattr(module_manifest, "_bootstrap_powershell_script"):
        pytest.skip("ansible-core < 2.19 builds the exec manifest in one string (no cacheable lines yet)")
    from ansible_collections.ansible import windows

    path = f"{windows.__path__[0]}/plugins/modules/win_ping.ps1"
    payload = module_manifest._create_powershell_wrapper(
        name="ansible_collections.ansible.windows.plugins.modules.win_ping",
        module_data=Path(path).read_bytes(),
        module_path=path,
        module_args={"data": data, "_ansible_no_log": False},
        environment={},
        async_timeout=0,
        become_plugin=None,
        substyle="powershell",
        task_vars={},
        profile="legacy",
    )
    script = module_manifest._get_powershell_script("bootstrap_wrapper.ps1").decode()
    return script, payload.decode().splitlines()


@pytest.mark.runs_ps1("connection.payload_cache")
def test_reset_runspace_and_new_shell_fall_back_to_a_full_send(winhost: Any) -> None:
    """ResetRunspaceState forgets the function and the cache (the command is not found: nothing
    ran, so the task is sent again in full); a new shell starts with nothing assumed."""
    from winhost_session import winhost_session

    session = winhost_session(winhost, "dc01")
    try:
        for data, expected_misses in (("one", 0), ("two", 0)):
            rc, out, _ = session.exec_script(*_win_ping_command(data))
            assert (rc, json.loads(out)["ping"]) == (0, data)
            assert session.payload_state.misses == expected_misses
        session.pool.reset_runspace_state()
        rc, out, _ = session.exec_script(*_win_ping_command("three"))
        assert (rc, json.loads(out)["ping"]) == (0, "three")
        assert session.payload_state.misses == 1
        opened = session.opened
        assert winhost.kill_shells("dc01") == 1
        rc, out, _ = session.exec_script(*_win_ping_command("four"))
        assert (rc, json.loads(out)["ping"]) == (0, "four")
        assert session.opened == opened + 1 and session.payload_state.misses == 1
    finally:
        session.close()


def test_shell_is_replaced_after_module_tasks_bounding_loaded_assemblies(
    winhost: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each module task compiles its C# utils into another assembly of the shell's process
    (winhost counts Add-CSharpType compiles); after MODULE_TASKS_PER_SHELL module tasks the
    session replaces its shell once the reply is out, so no process holds more than that."""
    from winhost_session import winhost_session

    from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _client

    monkeypatch.setattr(_client, "MODULE_TASKS_PER_SHELL", 3)
    winhost.reset_stats("dc01")
    session = winhost_session(winhost, "dc01")
    try:
        for index in range(7):
            rc, out, _ = session.exec_script(*_win_ping_command(str(index)))
            assert (rc, json.loads(out)["ping"]) == (0, str(index))
            session.close_pending()  # what the broker does after each reply
        rc, out, _ = session.exec_script("Write-Output raw")  # raw tasks do not count
        assert (rc, out) == (0, b"raw")
        assert session.opened == 3 and session.take_notices() == []  # no "session failed" notice
    finally:
        session.close()
    stats = winhost.stats("dc01")
    assert stats["csharp_compiles"] == 7 and stats["assemblies_per_process_peak"] == 3
    assert stats["wsman_requests"]["Create"] == 3
