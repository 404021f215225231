"""Connection settings and a PSRPSession for one winhost host, read through the plugin's own
option table (``_options.read_settings``), for tests that drive the client directly.

Shared by the reliability, proxy and scale tests so the host-vars-to-options mapping exists once.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._client import PSRPSession
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._options import (
    OPTION_TABLE,
    ConnectionSettings,
    read_settings,
)


def winhost_settings(hostvars: dict[str, Any], name: str, **overrides: Any) -> ConnectionSettings:
    """Settings for host ``name`` from its winhost inventory vars; ``overrides`` set options by
    name (``ignore_proxy`` is on unless overridden: the tests must not depend on the caller's
    proxy environment)."""
    opts = {
        "remote_addr": hostvars["ansible_host"],
        "remote_user": hostvars["ansible_user"],
        "remote_password": hostvars["ansible_password"],
        "port": hostvars["ansible_port"],
        "protocol": hostvars["ansible_psrp_protocol"],
        "auth": hostvars["ansible_psrp_auth"],
        "ca_cert": hostvars["ansible_psrp_ca_cert"],
        "ignore_proxy": True,
        **overrides,
    }

    def get(option: str) -> Any:
        if option in opts:
            return opts[option]
        default = OPTION_TABLE[option][1]
        return None if default == "inventory_hostname" else default

    return read_settings(get, name)


def winhost_session(winhost: Any, name: str, **overrides: Any) -> PSRPSession:
    """A PSRPSession (not yet open) to winhost host ``name``; see :func:`winhost_settings`."""
    settings = winhost_settings(winhost.hostvars(name), name, **overrides)
    return PSRPSession(dict(settings.wsman_kwargs), settings.configuration_name, None, name)
