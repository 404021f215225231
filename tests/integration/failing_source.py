"""A controller source file whose reads fail part-way, for put_file tests (unit and winhost-backed)."""

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
