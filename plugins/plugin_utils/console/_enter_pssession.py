# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the interactive console (see docs/enter_pssession.md)::

    python -m ansible_collections.psremoting.core.plugins.plugin_utils.console._enter_pssession \
        -i INVENTORY HOST

FOR INTERNAL USE by the psremoting.core collection only: this is not a public API and may change
without notice.

Ansible's collection loader must be in place before any ``ansible_collections`` package is
imported, or plugins of the collection cannot be loaded (``collection metadata was not loaded``).
``python -m`` has already imported the parent packages with the ordinary import system, so this
module installs the loader, forgets those packages and imports the console through the loader.
It imports nothing from the collection at module level for that reason.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

CONSOLE = "ansible_collections.psremoting.core.plugins.plugin_utils.console._prompt"


def bootstrap() -> None:
    from ansible.plugins.loader import init_plugin_loader  # noqa: PLC0415

    init_plugin_loader()
    for name in [
        m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")
    ]:
        del sys.modules[name]


def main(argv: Sequence[str] | None = None) -> int:
    bootstrap()
    console = importlib.import_module(CONSOLE)
    result: int = console.main(argv)
    return result


if __name__ == "__main__":
    sys.exit(main())
