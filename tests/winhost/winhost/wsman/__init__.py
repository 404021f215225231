"""WS-Management + PSRP service of a simulated Windows host (sans-IO; see service.py).

The package imports none of its modules, so that the engine can use the protocol constants
(faults, namespaces) without loading the service, which itself runs the engine.
"""

from __future__ import annotations
