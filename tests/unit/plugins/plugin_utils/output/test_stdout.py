"""output/_stdout.py: stdout built while the output arrives equals ansible.builtin.psrp's join."""

from __future__ import annotations

from ansible_collections.psremoting.core.plugins.plugin_utils.output._stdout import StdoutBuffer


def test_items_are_joined_with_crlf_like_the_builtin() -> None:
    pending: list[object] = ["a", 1]
    buffer = StdoutBuffer(str)
    buffer.drain(pending)
    assert pending == []  # taken out of pypsrp's list as they arrive
    pending.extend(["caf\u00e9", "lone \udcff"])
    buffer.drain(pending)
    buffer.add("host line")
    expected = "\r\n".join(["a", "1", "caf\u00e9", "lone \udcff", "host line"])
    assert buffer.value() == expected.encode("utf-8", "surrogateescape")
    assert len(buffer) == len(buffer.value())


def test_empty_and_single_item() -> None:
    assert StdoutBuffer(str).value() == b""
    one = StdoutBuffer(str)
    one.add("")
    one.add("")
    assert one.value() == b"\r\n"  # "\r\n".join(["", ""])


def test_value_is_not_a_second_copy() -> None:
    """getvalue() hands over the buffer's own bytes object: the same object twice."""
    buffer = StdoutBuffer(str)
    buffer.add("x" * 100_000)
    assert buffer.value() is buffer.value()
