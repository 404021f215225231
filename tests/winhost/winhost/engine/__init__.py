"""winhost's engine: the machine model of a simulated Windows host and the PowerShell it runs.

- :mod:`winhost.engine.model`: ``Machine`` (services, WSMan configuration, listeners, firewall,
  certificate store, registry, accounts, session configurations, sandbox ``C:\\``), presets
  ``fresh``/``configured``, JSON state, ``subscribe(callback)`` change notification.
- :mod:`winhost.engine.runspace`: ``Runspace.invoke(commands, input, host)`` for the WSMan layer,
  the ``PipelineHost`` protocol and ``PipelineStopped``.
- :mod:`winhost.engine.evaluator`: the script subset (tests/winhost/SCRIPT_SUBSET.md).
- :mod:`winhost.engine.cmdlets`: the cmdlet catalogue.
"""

from __future__ import annotations
