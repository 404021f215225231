from __future__ import annotations

from pypsrp.powershell import PowerShell, RunspacePool


def test_open_run_close(wsman, stats):
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_argument("hello").add_argument(2)
        out = ps.invoke()
        assert out == ["hello", 2]
        assert not ps.had_errors
