# for internal use by psremoting.core only; not a public API
"""The stdout of an exec pipeline (raw, script, module), built while the output arrives.

ansible.builtin.psrp joins the text of every output object, then every host stdout line, with
CRLF, once the pipeline has ended; for a large output that holds the objects, the joined text and
its UTF-8 encoding at the same time. :class:`StdoutBuffer` gives the same bytes while holding
about one copy: after every Receive the output objects pypsrp has deserialized are taken out of
its list, turned into text, encoded and appended to one growing buffer; ``value()`` hands that
buffer over without copying it (``io.BytesIO.getvalue`` returns its own bytes object when no
view of it is exported).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

CRLF = b"\r\n"


class StdoutBuffer:
    def __init__(self, text_of: Callable[[Any], str]) -> None:
        self._text_of = text_of
        self._buffer = io.BytesIO()
        self._empty = True

    def __len__(self) -> int:
        return self._buffer.tell()

    def add(self, text: str) -> None:
        """One more item (CRLF before every item but the first, like ``"\\r\\n".join``)."""
        if not self._empty:
            self._buffer.write(CRLF)
        self._empty = False
        self._buffer.write(text.encode("utf-8", "surrogateescape"))

    def drain(self, items: list[Any]) -> None:
        """Take every item out of ``items`` (pypsrp's output list) and add its text."""
        batch = items[:]
        del items[:]
        for item in batch:
            self.add(self._text_of(item))

    def value(self) -> bytes:
        return self._buffer.getvalue()
