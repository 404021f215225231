# for internal use by psremoting.core only; not a public API
"""Keep a forked Ansible worker from copying the controller's heap (stdlib only).

ansible-playbook forks one worker per host and task. The worker inherits the parent's heap (its
inventory, variables and results, which grow with the number of hosts) as copy-on-write pages.
CPython's cyclic garbage collector writes to the header of every object it examines, so the
first full collection in a worker copies every inherited page that holds a container: at 500
hosts and forks=32 that made each worker about 56 MiB private (bench scenario 4).
:func:`freeze_inherited_objects` moves the objects the worker inherited into the collector's
permanent generation (``gc.freeze``, made for this case): later collections skip them, so the
pages stay shared. Objects the worker creates itself are collected as usual, and the worker
exits after its task, so nothing it inherited needs collecting. In the controller itself (no
multiprocessing parent: ansible-doc, ``meta: reset_connection``, and ansible-playbook when the
``psrp_preload`` vars plugin loads the connection plugin there) it does nothing.

The connection plugin calls it when a worker imports it and again when it creates its Connection
(a worker that inherited the plugin already loaded never imports it): once per process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

_frozen_in: int | None = None  # the process that froze (a fork inherits the value, not the freeze)


def freeze_inherited_objects() -> bool:
    """Freeze what a forked worker inherited, once; True when it did (only in a worker process)."""
    global _frozen_in
    if multiprocessing.parent_process() is None:
        return False
    if _frozen_in != os.getpid():
        gc.freeze()
        _frozen_in = os.getpid()
    return True
