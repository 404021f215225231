"""The connection plugin adapter: options read first, a backend chosen, every operation delegated."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from ansible.errors import AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader
from ansible.plugins.shell.powershell import _common_args

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp import _command_line
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._backend import LocalBackend


def _conn(**var_options: Any) -> Any:
    pc = PlayContext()
    conn = connection_loader.get("psremoting.core.psrp", pc, None)
    assert conn is not None
    opts = {"ansible_host": "win1.example.test", "ansible_user": "admin", "ansible_password": "pw"}
    opts.update(var_options)
    conn.set_options(var_options=opts)
    return conn


def _encoded(script: str) -> str:
    return (
        " ".join(_common_args) + " -EncodedCommand " + base64.b64encode(script.encode("utf-16-le")).decode()
    )


def test_plugin_loads_with_builtin_attributes() -> None:
    conn = _conn()
    assert conn.has_pipelining and conn.always_pipeline_modules and conn.has_native_async
    assert conn.module_implementation_preferences == (".ps1", ".exe", "")
    assert conn._shell.SHELL_FAMILY == "powershell"


def test_bad_option_fails_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn(ansible_psrp_max_envelope_size=10)

    def no_backend(settings: Any) -> Any:
        raise AssertionError("must not connect with invalid options")

    monkeypatch.setattr(conn, "_make_backend", no_backend)
    with pytest.raises(
        AnsibleError, match=r"win1\.example\.test.*'max_envelope_size'.*ansible_psrp_max_envelope_size"
    ):
        conn.exec_command("hostname")


def test_invoke_pipeline_validates_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _conn()
    monkeypatch.setattr(conn, "_run", lambda fn: pytest.fail("must not send an invalid request"))
    with pytest.raises(AnsibleError, match=r"invoke_pipeline: .*commands"):
        conn.invoke_pipeline({"commands": []})


def test_persist_false_uses_an_in_process_session() -> None:
    conn = _conn(ansible_psrp_session_persist=False)
    settings = conn._read_settings()
    backend = conn._make_backend(settings)
    assert isinstance(backend, LocalBackend)


def test_become_is_part_of_the_session_identity() -> None:
    conn = _conn()
    assert conn._become_key() is None

    class Become:
        name = "ansible.builtin.runas"

        def get_option(self, name: str) -> str:
            return "SYSTEM"

    conn.become = Become()
    assert conn._become_key() == ["ansible.builtin.runas", "SYSTEM"]


class _RecordingBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def put(self, in_path: str, out_path: str) -> dict[str, Any]:
        self.calls.append(("put", in_path, out_path))
        return {}

    def fetch(self, in_path: str, out_path: str) -> dict[str, Any]:
        self.calls.append(("fetch", in_path, out_path))
        return {}


@pytest.mark.parametrize("shell_unquotes", [True, False])
def test_put_and_fetch_paths_with_and_without_shell_unquote(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, shell_unquotes: bool
) -> None:
    """ansible-core <= 2.19: paths lose one pair of quotes (ShellModule._unquote), as in the builtin;
    2.20 removed _unquote (paths come unquoted) and the builtin passes them as they are."""
    conn = _conn()
    backend = _RecordingBackend()
    monkeypatch.setattr(conn, "_run", lambda fn: fn(backend))
    if shell_unquotes:
        monkeypatch.setattr(conn._shell, "_unquote", lambda v: v.strip("'"), raising=False)
    elif hasattr(type(conn._shell), "_unquote"):
        monkeypatch.delattr(type(conn._shell), "_unquote")
    local = tmp_path / "src.txt"
    local.write_text("x")
    conn.put_file(str(local), "'C:\\Temp\\a b.txt'")
    conn.fetch_file("'C:\\Temp\\a b.txt'", str(tmp_path / "dest.txt"))
    remote = "C:\\Temp\\a b.txt" if shell_unquotes else "'C:\\Temp\\a b.txt'"
    assert backend.calls == [
        ("put", str(local), remote),
        ("fetch", remote, str(tmp_path / "dest.txt")),
    ]


class _ExecBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def exec(self, script: str, input_data: Any, arguments: Any, **kwargs: Any) -> tuple[int, bytes, bytes]:
        self.calls.append((script, input_data, arguments, kwargs))
        return 0, b"out", b""


def test_exec_command_parses_once_and_hands_the_input_over_unencoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line is split once per command, and the backend gets pypsrp's own input objects
    (lines of the manifest), not the broker's JSON encoding of them."""
    conn = _conn()
    backend = _ExecBackend()
    monkeypatch.setattr(conn, "_make_backend", lambda settings: backend)
    splits: list[str] = []
    real_split = _command_line.split_command

    def counting_split(cmd: str, *args: Any, **kwargs: Any) -> Any:
        splits.append(cmd)
        return real_split(cmd, *args, **kwargs)

    monkeypatch.setattr(_command_line, "split_command", counting_split)
    cmd = _encoded("$env:X = 1")
    assert conn.exec_command(cmd, in_data=b'{"a":1}\n{"Environment": {"B": "2"}}') == (0, b"out", b"")
    assert splits == [cmd]
    script, input_data, arguments, kwargs = backend.calls[0]
    assert script == "$env:X = 1" and arguments is None
    if _command_line.MANIFEST_AS_LINES:
        assert input_data == ['{"a":1}', '{"Environment": {"B": "2"}}']
    assert kwargs["may_change_state"] is True and kwargs["joined_stderr"] is _command_line.JOINED_STDERR
