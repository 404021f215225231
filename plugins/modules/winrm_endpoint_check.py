# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_endpoint_check.py) on the controller;
# this file holds its documentation only.

DOCUMENTATION = r"""
module: winrm_endpoint_check
short_description: Check from the controller that a WinRM listener answers and its certificate validates
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Runs on the controller only; it opens no session to the host and sends no credentials.
  - Connects to the listener, for HTTPS validates the server certificate against I(ca_pem), I(ca_path) or the
    system trust store and the name I(server_name), sends an unauthenticated C(POST /wsman) and reads the
    C(401) answer, whose C(WWW-Authenticate) headers list the authentication methods the service offers.
  - Fails with the reason (refused, certificate validation, unexpected status, a method offered or missing).
  - The enable_psremoting role uses it to verify a new endpoint before it reports success.
options:
  scheme:
    description: C(http) or C(https).
    type: str
    choices: [http, https]
    default: https
  address:
    description: Address or name to connect to.
    type: str
    required: true
  port:
    description: TCP port.
    type: int
    required: true
  server_name:
    description: Name the certificate must match (SNI and hostname check). Defaults to I(address).
    type: str
  ca_pem:
    description: PEM certificates to trust, such as the self-signed listener certificate M(psremoting.core.winrm_listener)
      returns.
    type: str
  ca_path:
    description: File of PEM certificates to trust.
    type: path
  require_auth:
    description: Methods that must be offered (C(Basic), C(Negotiate), C(Kerberos), C(CredSSP)).
    type: list
    elements: str
    default: []
  require_any_auth:
    description: At least one of these must be offered.
    type: list
    elements: str
    default: []
  forbid_auth:
    description: Methods that must not be offered.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Only reads; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing to compare; the module changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller; talks to the listener over the network.
"""

EXAMPLES = r"""
- name: Create the HTTPS listener
  psremoting.core.winrm_listener:
    transport: https
    self_signed: true
  register: listener

- name: It answers on 5986 with that certificate and does not offer Basic
  psremoting.core.winrm_endpoint_check:
    address: "{{ ansible_host }}"
    port: 5986
    server_name: "{{ listener.listener.hostname }}"
    ca_pem: "{{ listener.certificate.pem }}"
    forbid_auth: [Basic]
"""

RETURN = r"""
status:
  description: HTTP status of the unauthenticated request (401 expected).
  returned: when connected
  type: int
auth_methods:
  description: Methods offered in C(WWW-Authenticate).
  returned: when connected
  type: list
  elements: str
peer_certificate_sha1:
  description: SHA-1 thumbprint of the server certificate (HTTPS).
  returned: when connected
  type: str
"""
