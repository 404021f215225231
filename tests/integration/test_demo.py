"""make demo end to end: tools/demo.py --quick against real winhost processes (about 80 s)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end_and_reads_like_powershell() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "demo.py"), "--quick"],
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    # Get-Service through PowerShell's default view of ServiceController, plus PSComputerName
    assert out.count("Status  Name    DisplayName  PSComputerName") == 2
    assert out.count("Stopped W32time Windows Time") == 3 and out.count("Running W32time Windows Time") == 3
    assert out.count("shells_open=0") == 3
    # durations in seconds, never as xs:duration
    assert "RunTime(s) Idle(s)" in out and not re.search(r"P\d+DT\d+H", out)
    # the role step says what it changed on each host
    changes = out[out.index("What the role changed on each host:") :].split("\n")[1:4]
    assert [line.split()[0] for line in changes] == ["dc01", "sql02", "web01"]
    assert all("HTTPS listener" in line for line in changes), changes
    # no contradiction: the kept-sessions note appears only when a host kept a session
    kept = re.findall(r"^    (\w+) +\d+ +\d+ +(\d+) ok", out, re.M)
    notes = re.findall(r"^    (\w+): kept (\d+): ", out, re.M)
    assert len(kept) == 3 and notes == [(host, k) for host, k in kept if int(k)], (kept, notes)
    assert all(len(line) <= 100 for line in out.splitlines()), max(out.splitlines(), key=len)
    assert "WARNING" not in out, [line for line in out.splitlines() if "WARNING" in line]
    assert "Demo finished" in out
