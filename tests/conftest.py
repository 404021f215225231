"""Test-suite wide set-up: make the collection importable and findable by Ansible.

The collection is the repository root; Python and Ansible find it as
``ansible_collections.psremoting.core`` through ``.build/ansible_collections/psremoting/core``,
a symlink to the checkout that ``make collection-link`` creates (created here too if missing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD = REPO_ROOT / ".build"
LINK = BUILD / "ansible_collections" / "psremoting" / "core"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(Path("..") / ".." / "..")

if str(BUILD) not in sys.path:
    sys.path.insert(0, str(BUILD))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(BUILD)
os.environ.setdefault("ANSIBLE_HOST_KEY_CHECKING", "False")
os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
