"""Run ansible-core's connection_psrp tests.yml task by task past failures (for
tools/ansible-core-psrp-target.sh): a failed task ends the play, so the play is started again at
the task after it (--start-at-task) until its end. Prints how many tasks passed and each failure.

With ``PSREMOTING_CORE_TARGET_KNOWN=<file>`` (task name, tab, reason per line; # comments) the
exit status is 0 when exactly the listed tasks failed.

Usage: _step_through.py <target dir> <inventory> <log file> [extra ansible-playbook args...]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys


def main(target: str, inventory: str, log: str, extra: list[str]) -> int:
    base = ["ansible-playbook", "-i", inventory, "tests.yml", *extra]
    listing = subprocess.run([*base, "--list-tasks"], cwd=target, capture_output=True, text=True, check=False)
    names = [
        line.strip().split("\tTAGS:")[0].strip()
        for line in listing.stdout.splitlines()
        if "TAGS:" in line and "play #" not in line
    ]
    passed, failed, index = 0, [], 0
    with open(log, "a", encoding="utf-8") as out:
        while index < len(names):
            args = [*base, "--start-at-task", names[index]]
            proc = subprocess.run(args, cwd=target, capture_output=True, text=True, check=False)
            out.write(f"\n+ {' '.join(args)}\n{proc.stdout}{proc.stderr}")
            ran = re.findall(r"^TASK \[(.*?)\] \*", proc.stdout, re.M)
            fatal = re.search(r"^fatal: \[[^]]+\]: (?:FAILED!|UNREACHABLE!) => (.*)$", proc.stdout, re.M)
            if proc.returncode == 0 or not fatal or not ran:
                passed += len(ran)
                break
            passed += len(ran) - 1
            failed.append((ran[-1], fatal.group(1)[:300]))
            later = [i for i, name in enumerate(names) if name == ran[-1] and i >= index]
            index = (later[0] if later else index) + 1
    known = _known(os.environ.get("PSREMOTING_CORE_TARGET_KNOWN", ""))
    print(f"tests.yml: {passed} tasks passed, {len(failed)} failed ({len(known)} known winhost gaps)")
    for name, msg in failed:
        print(f"  FAILED {name}: {known.get(name) or 'NEW FAILURE: ' + msg}")
    failed_names = {name for name, _ in failed}
    for name in sorted(set(known) - failed_names):
        print(f"  PASSED although listed as a known failure (remove it): {name}")
    return 0 if failed_names == set(known) else 1


def _known(path: str) -> dict[str, str]:
    if not path:
        return {}
    entries = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.rstrip("\n").partition("\t")
                entries[name] = reason
    return entries


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
