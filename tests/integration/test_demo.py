"""make demo end to end: tools/demo.py --quick against real winhost processes (about 100 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "demo.py"), "--quick"],
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    assert out.count("Stopped W32Time") == 3 and out.count("Running W32Time") == 3
    assert out.count("shells_open=0") == 3
    assert "Demo finished" in out
