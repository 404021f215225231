"""Bad input and odd output: parse errors, lone surrogates, huge and deeply nested output.

Scaling (stated as the brief asks): the output cap is lowered from its default of 512 MiB to
512 KiB for the test and the command returns about 5 MB, so the test runs in seconds while the
output is ten times the cap; controller memory is measured with tracemalloc.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import run_tasks
from winhost_session import winhost_session

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession, SessionError
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import PipelineRequestError

pytestmark = [pytest.mark.integration, pytest.mark.winhost(hosts="in01")]

HOST = "in01"


@pytest.fixture
def session(winhost: Any) -> Iterator[PSRPSession]:
    s = winhost_session(winhost, HOST)
    try:
        yield s
    finally:
        s.close()


def _playbook(winhost: Any, tmp_path: Path, tasks: str) -> tuple[int, dict[str, Any], str]:
    return run_tasks(winhost, tmp_path, HOST, tasks)


def test_parse_error_and_odd_text_through_ansible(winhost: Any, tmp_path: Path) -> None:
    """A script that does not parse is an error record (task failed, host reachable); a lone
    UTF-16 surrogate in the output becomes U+FFFD instead of breaking the connection."""
    rc, data, out = _playbook(
        winhost,
        tmp_path,
        "    - raw: Write-Output (\n      register: parse\n      ignore_errors: true\n"
        "    - raw: Write-Output ('a' + [string][char]0xD800 + 'b')\n      register: odd\n"
        "    - raw: Write-Output still-fine\n",
    )
    assert rc == 0, out
    parse, odd, fine = (t["hosts"][HOST] for t in data["plays"][0]["tasks"])
    assert parse.get("failed") is True and not parse.get("unreachable")
    assert parse["rc"] == 1 and "ParseException" in parse["stderr"]
    assert odd["stdout_lines"] == ["a\ufffdb"]
    assert fine["stdout_lines"] == ["still-fine"]
    assert "Traceback" not in out


def test_huge_output_is_capped_and_memory_stays_bounded(session: PSRPSession) -> None:
    session.max_output_bytes = 512 * 1024
    session.exec_script("Write-Output warm")  # the pool exists before we measure
    tracemalloc.start()
    try:
        with pytest.raises(SessionError, match="output and was stopped"):
            session.exec_script("1..5000 | ForEach-Object { 'x' * 1000 }")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"controller peak {peak / 1e6:.1f} MB for a 512 KiB cap"
    # the session recovers for the next task
    assert session.exec_script("Write-Output next")[1] == b"next"


def test_output_under_the_cap_is_complete(session: PSRPSession) -> None:
    rc, out, _err = session.exec_script("1..2000 | ForEach-Object { 'line' + $_ }")
    lines = out.decode().split("\r\n")
    assert rc == 0 and len(lines) == 2000 and lines[-1] == "line2000"


def test_deeply_nested_output_is_cut_at_the_requested_depth(session: PSRPSession) -> None:
    script = "$o = @{l = 0}; foreach ($i in 1..60) { $o = @{l = $i; c = $o} }; $o"
    result = session.invoke_pipeline({"commands": [{"name": script, "is_script": True}], "depth": 3})
    value = result["output"][0]
    depth = 0
    while isinstance(value, dict):
        value = value.get("c")
        depth += 1
    assert depth == 4 and isinstance(value, str)  # deeper levels became their ToString() text
    with pytest.raises(PipelineRequestError, match="depth"):
        session.invoke_pipeline({"commands": [{"name": "Get-Date"}], "depth": 1000})


def test_deep_nesting_beyond_python_recursion_is_an_error_not_a_crash(session: PSRPSession) -> None:
    """A server may send objects nested far deeper than Windows' serializer would; the client
    reports an error (or returns the data) and the session stays usable.

    The call runs in its own thread, as the broker runs every request, so a hang is detected.
    """
    text = "[" * 1500 + "1" + "]" * 1500
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["result"] = session.invoke_pipeline(
                {
                    "commands": [{"name": "ConvertFrom-Json", "parameters": {"InputObject": text}}],
                    "depth": 100,
                }
            )
        except SessionError as exc:
            outcome["error"] = exc.info.message
        except BaseException as exc:  # a crash: recorded and failed below
            outcome["crash"] = repr(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "hung"
    assert "crash" not in outcome, outcome
    if "error" in outcome:
        assert "RecursionError" in outcome["error"] or "nested" in outcome["error"]
    else:
        assert outcome["result"]["state"] in ("Completed", "Failed")
    assert session.exec_script("Write-Output alive")[1] == b"alive"
