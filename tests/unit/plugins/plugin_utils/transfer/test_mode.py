"""The mode a fetched file gets (plugins/plugin_utils/transfer/_mode.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._mode import (
    fetched_file_mode,
    process_umask,
)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_umask_is_read_without_changing_it(umask: int) -> None:
    previous = os.umask(umask)
    try:
        assert process_umask() == umask
        assert process_umask() == umask  # still the same: reading did not change it
    finally:
        os.umask(previous)


def test_new_and_existing_files(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        assert fetched_file_mode(str(tmp_path / "new.bin")) == 0o640
    finally:
        os.umask(previous)
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"")
    existing.chmod(0o604)
    assert fetched_file_mode(str(existing)) == 0o604
