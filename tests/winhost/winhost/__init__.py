"""winhost: simulated Windows hosts for testing PowerShell Remoting clients.

Each simulated host listens on its own loopback address, speaks HTTP(S) with the
authentication schemes WinRM offers, and hands decrypted SOAP envelopes to a
WS-Management/PSRP service backed by a machine model.
"""

from __future__ import annotations

__version__ = "0.1.0"
