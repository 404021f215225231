"""The Makefile's `test` target runs every check CI relies on.

A phony target named as a prerequisite but without a rule of its own is silently "done" by make:
that is how `lint` (ruff, ruff format, mypy, check_ps1, ansible-lint, antsibull-changelog) once
stopped running in CI without any failure.
"""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def _rules() -> dict[str, tuple[list[str], list[str]]]:
    """target -> (prerequisites, recipe lines), for the explicit rules of the Makefile."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
            continue
        match = re.match(r"^([A-Za-z0-9_.$()/-]+):(?!=)\s*(.*)$", line)
        if match and not match.group(1).startswith("."):
            current = []
            rules[match.group(1)] = (match.group(2).split(), current)
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def test_every_phony_target_has_a_rule() -> None:
    text = MAKEFILE.read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", text, re.MULTILINE)
    assert phony
    missing = [name for name in phony.group(1).split() if name not in _rules()]
    assert not missing, f"phony targets without a rule (make would skip them silently): {missing}"


def test_make_test_runs_lint_sanity_pytest_and_the_core_target() -> None:
    rules = _rules()
    assert {"lint", "sanity", "pytest", "core-target", "test-matrix"} <= set(rules["test"][0])
    recipe = "\n".join(rules["lint"][1])
    for check in (
        "ruff check .",
        "ruff format --check .",
        "mypy",
        "tools/check_ps1.py",
        "ansible-lint",
        "antsibull-changelog lint",
    ):
        assert check in recipe, f"make lint no longer runs {check!r}"


def test_pytest_runs_the_serial_tests_alone_after_the_parallel_phase() -> None:
    """The tests that load the machine themselves (1,000 and 200 simulated hosts) starved the
    parallel phase on a 2-CPU CI machine and were starved by it: `make pytest` runs them after it,
    one at a time, and no test is left out of both phases."""
    recipe = _rules()["pytest"][1]
    assert len(recipe) == 2, recipe
    parallel, serial = recipe
    assert "-n $(PYTEST_WORKERS)" in parallel and '-m "not serial"' in parallel
    assert "-n 0" in serial and "-m serial" in serial
    repo = MAKEFILE.parent
    assert '"serial: ' in (repo / "pyproject.toml").read_text(encoding="utf-8")
    for path, test in (
        ("tests/integration/test_fleet_scale.py", "def test_one_to_many_over_a_thousand_hosts("),
        (
            "tests/integration/test_reliability_scale.py",
            "def test_two_hundred_hosts_with_five_percent_unreachable(",
        ),
    ):
        text = (repo / path).read_text(encoding="utf-8")
        decorators = text[: text.index(test)].rsplit("\n\n\n", 1)[-1]
        assert "@pytest.mark.serial" in decorators, path
