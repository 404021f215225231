"""The cmdlet families (one module each) and their registry (:mod:`.registry`).

Importing :mod:`winhost.engine.catalogue` registers every cmdlet; this package imports nothing,
so that a module needing one helper from a family does not load the whole catalogue.
"""

from __future__ import annotations
