"""Windows paths of a simulated host mapped onto its sandbox directory (the model's ``C:\\``).

Only what Ansible's modules and file transfer need: absolute ``C:`` paths, rooted (``\\x``) and
relative paths (resolved against the session's current location), ``\\\\?\\`` long-path prefixes,
``%VAR%`` expansion like ``[Environment]::ExpandEnvironmentVariables`` and case-insensitive name
lookup with the on-disk spelling preserved, as NTFS does.

Win32 path normalisation follows "File path formats on Windows systems"
(https://learn.microsoft.com/en-us/dotnet/standard/io/file-path-formats): ``/`` is a separator,
``.``/``..`` segments are collapsed, and trailing spaces and periods of a segment are removed
(except for ``\\\\?\\`` paths, which skip normalisation). Characters invalid in NTFS names
(``<>:"|?*`` and control characters) are rejected.

This helper belongs to the Ansible emulation (``winhost.engine.ansible_exec``); the engine's
cmdlets may use their own file-system provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_INVALID_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
_ENV_VAR = re.compile(r"%([^%]+)%")


class WinPathError(Exception):
    """A path Windows rejects (.NET ``ArgumentException``/``NotSupportedException`` wording)."""


def expand_environment_variables(text: str, env: Mapping[str, str]) -> str:
    """``[Environment]::ExpandEnvironmentVariables``: unknown ``%NAME%`` stays as it is."""

    lowered = {k.lower(): v for k, v in env.items()}

    def repl(match: re.Match[str]) -> str:
        value = lowered.get(match.group(1).lower())
        return match.group(0) if value is None else value

    return _ENV_VAR.sub(repl, text)


def user_profile(user: str) -> str:
    """``C:\\Users\\<name>`` for ``DOMAIN\\name`` or ``name``."""
    return "C:\\Users\\" + user.rsplit("\\", maxsplit=1)[-1].split("@", maxsplit=1)[0]


def user_environment(machine: Any, user: str) -> dict[str, str]:
    """The process environment a remote session of ``user`` sees (machine + user variables).

    Per-user values are those of a local account logged on over WinRM (``USERPROFILE``,
    ``TEMP``/``TMP`` under ``AppData\\Local\\Temp``, ``USERNAME``, ``USERDOMAIN``...).
    """
    env: dict[str, str] = {}
    for key, value in getattr(machine, "environment", {}).items():
        env[str(key)] = str(value)
    profile = user_profile(user)
    name = user.rsplit("\\", maxsplit=1)[-1].split("@", maxsplit=1)[0]
    computer = str(getattr(machine, "computer_name", "WINHOST"))
    defaults = {
        "USERNAME": name,
        "USERDOMAIN": computer,
        "USERPROFILE": profile,
        "HOMEDRIVE": "C:",
        "HOMEPATH": profile[2:],
        "APPDATA": profile + "\\AppData\\Roaming",
        "LOCALAPPDATA": profile + "\\AppData\\Local",
        "TEMP": profile + "\\AppData\\Local\\Temp",
        "TMP": profile + "\\AppData\\Local\\Temp",
        "PUBLIC": "C:\\Users\\Public",
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "COMPUTERNAME": computer,
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "windir": "C:\\Windows",
    }
    lowered = {k.lower() for k in env}
    for key, value in defaults.items():
        if key.lower() not in lowered:
            env[key] = value
    return env


def _strip_device_prefix(path: str, text: str) -> tuple[str, bool]:
    """``\\\\?\\`` (verbatim: no trimming of trailing dots and spaces) and ``\\\\.\\`` prefixes."""
    if not text.startswith(("\\\\?\\", "\\\\.\\")):
        return text, False
    verbatim = text.startswith("\\\\?\\")
    text = text[4:]
    if text.upper().startswith("UNC\\"):
        raise WinPathError(f"winhost does not emulate UNC paths: '{path}'")
    return text, verbatim


def _normalise(parts: list[str], verbatim: bool) -> list[str]:
    """Drop ``.`` and empty components, apply ``..``, trim trailing dots and spaces (Win32 path
    normalisation), refuse characters Windows refuses in names."""
    result: list[str] = []
    for raw_part in parts:
        part = raw_part.rstrip(" .") if not verbatim and raw_part not in (".", "..") else raw_part
        if part in ("", "."):
            continue
        if part == "..":
            if result:
                result.pop()
            continue
        if _INVALID_NAME_CHARS.search(part):
            raise WinPathError("Illegal characters in path.")
        result.append(part)
    return result


class WinFS:
    """Resolve Windows paths of one session to real paths below the sandbox."""

    def __init__(self, root: Path, env: Mapping[str, str], cwd: str) -> None:
        self.root = root
        self.env = dict(env)
        self.cwd = cwd

    # -- parsing ---------------------------------------------------------------------------------
    def split(self, path: str) -> list[str]:
        """Absolute, normalised components below ``C:\\`` (without the drive)."""
        text, verbatim = _strip_device_prefix(
            path, expand_environment_variables(path, self.env).replace("/", "\\")
        )
        return _normalise(self._components(path, text), verbatim)

    def _components(self, path: str, text: str) -> list[str]:
        """The path's components, relative ones after the current directory's."""
        if not text:
            raise WinPathError("The path is not of a legal form.")
        if text.startswith("\\\\"):
            raise WinPathError(f"winhost does not emulate UNC paths: '{path}'")
        if len(text) >= 2 and text[1] == ":":
            drive = text[0].upper()
            if drive != "C":
                raise WinPathError(f"Cannot find drive. A drive with the name '{drive}' does not exist.")
            rest = text[2:]
            return rest.split("\\") if rest.startswith("\\") else [*self.split(self.cwd), *rest.split("\\")]
        if text.startswith("\\"):
            return text.split("\\")
        return [*self.split(self.cwd), *text.split("\\")]

    def _lookup(self, parts: list[str]) -> tuple[Path, list[str]]:
        """Real path and the on-disk spelling of each existing component (case-insensitive)."""
        real = self.root
        spelled: list[str] = []
        for index, part in enumerate(parts):
            candidate = real / part
            if not candidate.exists() and real.is_dir():
                lowered = part.lower()
                for entry in real.iterdir():
                    if entry.name.lower() == lowered:
                        candidate = entry
                        break
                else:
                    return real.joinpath(*parts[index:]), [*spelled, *parts[index:]]
            real = candidate
            spelled.append(candidate.name)
        return real, spelled

    def real(self, path: str) -> Path:
        """The sandbox path for ``path`` (may not exist)."""
        return self._lookup(self.split(path))[0]

    def full_name(self, path: str) -> str:
        """``FileSystemInfo.FullName``: ``C:\\`` + the on-disk spelling of existing components."""
        spelled = self._lookup(self.split(path))[1]
        return "C:\\" + "\\".join(spelled)

    def to_windows(self, real: Path) -> str:
        """The Windows path of a real path below the sandbox."""
        rel = real.relative_to(self.root)
        return "C:\\" + "\\".join(rel.parts)

    def ensure_dir(self, path: str) -> Path:
        real = self.real(path)
        real.mkdir(parents=True, exist_ok=True)
        return real
