"""The partial files of an interrupted transfer: names, prefix checks, the controller's fetch partial."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._partial import (
    NAME_MAX,
    open_fetch_partial,
    partial_path,
    prefix_digest,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.transfer._scripts import PARTIAL_SUFFIX


def test_partial_lives_beside_the_destination_under_a_recognisable_name(tmp_path: Path) -> None:
    assert partial_path(str(tmp_path / "report.csv")) == str(tmp_path / ("report.csv" + PARTIAL_SUFFIX))


def test_a_name_too_long_for_the_suffix_gets_a_hashed_partial_in_the_same_folder(tmp_path: Path) -> None:
    long_name = "x" * (NAME_MAX - 2)
    path = partial_path(str(tmp_path / long_name))
    assert os.path.dirname(path) == str(tmp_path) and path.endswith(PARTIAL_SUFFIX)
    assert len(os.path.basename(path)) <= NAME_MAX
    assert path == partial_path(str(tmp_path / long_name))  # the same one next time
    assert path != partial_path(str(tmp_path / ("y" * (NAME_MAX - 2))))


def test_prefix_digest_continues_only_from_a_matching_prefix() -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    src = io.BytesIO(data)
    digest = prefix_digest(src, 2_000_000, hashlib.sha256(data[:2_000_000]).hexdigest())
    assert digest is not None and src.tell() == 2_000_000
    digest.update(src.read())
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()  # the running hash of the whole file

    src = io.BytesIO(data)
    assert prefix_digest(src, 2_000_000, hashlib.sha256(b"other").hexdigest()) is None
    assert src.tell() == 0  # starts again from zero
    assert prefix_digest(io.BytesIO(data[:10]), 20, hashlib.sha256(data[:10]).hexdigest()) is None


def test_fetch_partial_is_reused_hashed_and_positioned_at_its_end(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    (tmp_path / ("f.bin" + PARTIAL_SUFFIX)).write_bytes(b"abc" * 1000)
    partial = open_fetch_partial(str(dest), 0o640)
    try:
        assert (
            partial.size == 3000 and partial.digest.hexdigest() == hashlib.sha256(b"abc" * 1000).hexdigest()
        )
        partial.file.write(b"more")
    finally:
        partial.file.close()
    assert (tmp_path / ("f.bin" + PARTIAL_SUFFIX)).read_bytes() == b"abc" * 1000 + b"more"
    assert stat.S_IMODE(os.stat(partial.path).st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_partial_of_another_user_is_replaced_not_reused(tmp_path: Path) -> None:
    planted = tmp_path / ("f.bin" + PARTIAL_SUFFIX)
    planted.write_bytes(b"someone else's bytes")
    os.chown(planted, 12345, 12345)
    partial = open_fetch_partial(str(tmp_path / "f.bin"), 0o600)
    try:
        assert partial.size == 0 and os.fstat(partial.file.fileno()).st_uid == os.geteuid()
    finally:
        partial.discard()
    assert not planted.exists()


def test_a_second_fetch_to_the_same_destination_gets_a_private_partial(tmp_path: Path) -> None:
    """Two fetches to one destination at the same time (fetch flat=yes from several hosts): the
    first holds the destination's partial (locked), the second writes to a private file beside
    it, so neither resumes from, truncates nor renames the other's bytes."""
    dest = tmp_path / "f.bin"
    first = open_fetch_partial(str(dest), 0o600)
    second = open_fetch_partial(str(dest), 0o600)
    try:
        assert first.shared and first.path == partial_path(str(dest))
        assert not second.shared and second.path != first.path
        assert os.path.dirname(second.path) == str(tmp_path) and second.size == 0
        first.file.write(b"host one")
        second.file.write(b"host two, longer")
        second.restart()  # the host's file differs: empties only its own file
        second.file.write(b"host two")
        second.commit(str(dest))
        assert dest.read_bytes() == b"host two"
        first.commit(str(dest))
        assert dest.read_bytes() == b"host one"  # each renamed its own whole file
    finally:
        first.discard()
        second.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_finished_fetch_never_deletes_the_partial_of_the_next_one(tmp_path: Path) -> None:
    """After its rename a fetch only closes: the partial a later fetch created under the same
    name is left alone (it used to be unlinked by the first fetch's clean-up)."""
    dest = tmp_path / "f.bin"
    done = open_fetch_partial(str(dest), 0o600)
    done.file.write(b"whole")
    done.commit(str(dest))
    later = open_fetch_partial(str(dest), 0o600)
    try:
        assert later.shared and later.size == 0
        done.discard()
        assert os.path.exists(later.path)
    finally:
        later.discard()
    assert dest.read_bytes() == b"whole" and not os.path.exists(later.path)


def test_a_partial_kept_for_resume_is_unlocked_for_the_next_fetch(tmp_path: Path) -> None:
    dest = tmp_path / "f.bin"
    cut = open_fetch_partial(str(dest), 0o600)
    cut.file.write(b"first half")
    cut.keep()
    again = open_fetch_partial(str(dest), 0o600)
    try:
        assert again.shared and again.size == len(b"first half")
    finally:
        again.discard()


def test_a_partial_that_cannot_be_replaced_is_left_alone_for_a_private_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Another user's file at the partial name in a sticky folder (/tmp) cannot be removed: the
    fetch neither fails nor writes through it, it uses a private file."""
    planted = tmp_path / ("f.bin" + PARTIAL_SUFFIX)
    planted.symlink_to(tmp_path / "elsewhere")
    real_unlink = os.unlink

    def sticky_unlink(path: str, *args: object, **kwargs: object) -> None:
        if os.path.basename(path) == planted.name:
            raise PermissionError(1, "Operation not permitted", path)
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", sticky_unlink)
    partial = open_fetch_partial(str(tmp_path / "f.bin"), 0o600)
    try:
        assert not partial.shared and partial.path != str(planted) and planted.is_symlink()
        assert not (tmp_path / "elsewhere").exists()
    finally:
        partial.discard()


def test_two_fetches_creating_the_partial_at_the_same_moment_both_go_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The partial did not exist when this fetch looked, and another fetch created it first
    (O_EXCL fails): this one goes on with a private file instead of failing."""
    dest = tmp_path / "f.bin"
    real_open = os.open

    def racing_open(path: str, flags: int, *args: int) -> int:
        if flags & os.O_EXCL and str(path).endswith(PARTIAL_SUFFIX):
            (tmp_path / ("f.bin" + PARTIAL_SUFFIX)).write_bytes(b"the other fetch")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", racing_open)
    partial = open_fetch_partial(str(dest), 0o600)
    try:
        assert not partial.shared and partial.size == 0
    finally:
        partial.discard()
    assert (tmp_path / ("f.bin" + PARTIAL_SUFFIX)).read_bytes() == b"the other fetch"
