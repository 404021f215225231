"""Controller files that fail part-way: a put's source whose reads fail, a fetch's partial file
whose writes fail (unit and winhost-backed transfer tests)."""

from __future__ import annotations

from typing import Any


class ReadFailsAfter:
    """Wraps an open file: reads fail with EIO once ``good`` bytes were read."""

    def __init__(self, real: Any, good: int) -> None:
        self._real = real
        self._good = good

    def read(self, size: int = -1) -> bytes:
        if self._real.tell() >= self._good:
            raise OSError(5, "Input/output error")
        return bytes(self._real.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __enter__(self) -> ReadFailsAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


class WriteFailsAfter:
    """Wraps an open file: writes fail with ``error`` (default ENOSPC, a full disk) once ``good``
    bytes were written."""

    def __init__(self, real: Any, good: int, error: OSError | None = None) -> None:
        self._real = real
        self._good = good
        self._error = error or OSError(28, "No space left on device")
        self.failed = 0

    def write(self, data: bytes) -> int:
        if self._real.tell() + len(data) > self._good:
            self.failed += 1
            raise self._error
        return int(self._real.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
