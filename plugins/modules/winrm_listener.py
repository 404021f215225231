# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/winrm_listener.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: winrm_listener
short_description: Manage WinRM HTTP and HTTPS listeners and their certificates
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Creates, updates or removes a WinRM listener (C(winrm/config/Listener)) with
    C(New-WSManInstance), C(Set-WSManInstance) and C(Remove-WSManInstance).
  - For HTTPS, binds a certificate from C(Cert:\LocalMachine\My) chosen by thumbprint or by
    subject/issuer, or creates a self-signed one (C(New-SelfSignedCertificate)) whose SANs are the
    short name and the FQDN of the host. The certificate is returned as PEM so the controller can trust it.
  - Refuses to remove, disable or move the listener the play is connected through unless
    I(allow_disconnect=true).
  - Every value is checked against the format or range Windows documents for it before the first request; a
    task with bad values fails naming the host, each option, its value and what is allowed, and changes nothing.
  - Needs the C(psremoting.core.psrp) connection plugin. Every remote step is a cmdlet with typed
    parameters; no script text is built from option values.
options:
  transport:
    description: The listener transport, one of the two selectors of a listener.
    type: str
    required: true
    choices: [http, https]
  address:
    description:
      - The other selector. C(*) listens on every address (filtered by the service's IPv4/IPv6 filters),
        C(IP:<address>) on one address, C(MAC:<address>) on one adapter.
    type: str
    default: "*"
  port:
    description: TCP port. Defaults to the current port, or 5985 (HTTP) / 5986 (HTTPS) for a new listener.
    type: int
  hostname:
    description:
      - The listener's C(Hostname). For HTTPS it must match the certificate's CN or a SAN; when unset, the
        certificate's first DNS name is used.
    type: str
  enabled:
    description: Whether the listener accepts requests.
    type: bool
    default: true
  state:
    description: Whether the listener exists.
    type: str
    choices: [present, absent]
    default: present
  certificate_thumbprint:
    description: Thumbprint (40 hex digits) of a certificate in C(Cert:\LocalMachine\My) to bind.
    type: str
  certificate_subject:
    description:
      - Bind the usable certificate (private key, Server Authentication EKU, valid now) whose subject matches
        this DN or DN component (C(CN=web01.contoso.com)), with the latest expiry.
    type: str
  certificate_issuer:
    description: With or without I(certificate_subject), also require this issuer DN or component.
    type: str
  self_signed:
    description:
      - Create and bind a self-signed certificate when the bound one is missing, expired, expires within
        I(renew_before_days) days or does not cover the names. A usable one is kept, so the task is idempotent.
    type: bool
    default: false
  self_signed_dns_names:
    description:
      - DNS names (SANs) of the self-signed certificate; the first is its subject CN.
      - Defaults to the computer's short name and FQDN (C(Win32_ComputerSystem)).
    type: list
    elements: str
  self_signed_key_length:
    description: RSA key size of the self-signed certificate.
    type: int
    choices: [2048, 3072, 4096]
    default: 4096
  self_signed_valid_days:
    description: Validity of a new self-signed certificate in days.
    type: int
    default: 730
  renew_before_days:
    description: Replace a self-signed certificate that expires within this many days.
    type: int
    default: 30
  certificate_dest:
    description:
      - A path on the controller to write the bound certificate to (PEM), for example to use it as
        C(ansible_psrp_ca_cert). Written only when its content differs; counts as a change.
    type: path
  allow_disconnect:
    description: Allow removing, disabling or moving the listener the play is connected through.
    type: bool
    default: false
extends_documentation_fragment:
  - psremoting.core.attributes
  - psremoting.core.attributes.platform
notes:
  - Changes take effect at once; no WinRM restart is needed.
  - The certificate's private key never leaves the host; only the public certificate is returned.
seealso:
  - module: psremoting.core.winrm_firewall
  - module: psremoting.core.winrm_info
  - name: Installation and configuration for Windows Remote Management
    description: Listener configuration and certificate requirements.
    link: https://learn.microsoft.com/windows/win32/winrm/installation-and-configuration-for-windows-remote-management
"""

EXAMPLES = r"""
- name: HTTPS listener with a self-signed certificate for the short name and FQDN
  psremoting.core.winrm_listener:
    transport: https
    self_signed: true
  register: https_listener

- name: Same, and keep the certificate on the controller to validate later connections
  psremoting.core.winrm_listener:
    transport: https
    self_signed: true
    certificate_dest: "{{ playbook_dir }}/certs/{{ inventory_hostname }}.pem"

- name: HTTPS listener with the machine certificate issued by the enterprise CA
  psremoting.core.winrm_listener:
    transport: https
    certificate_subject: "CN={{ ansible_host }}"
    certificate_issuer: CN=Contoso Issuing CA

- name: Remove the HTTP listener once HTTPS works (refused while connected over HTTP)
  psremoting.core.winrm_listener:
    transport: http
    state: absent
"""

RETURN = r"""
listener:
  description: The listener after the task (empty when absent).
  returned: always
  type: dict
  sample:
    address: "*"
    transport: HTTPS
    port: 5986
    hostname: web01
    enabled: true
    certificate_thumbprint: 0123456789ABCDEF0123456789ABCDEF01234567
    url_prefix: wsman
    listening_on: [127.0.0.1, "::1"]
certificate:
  description: The bound certificate (HTTPS), with C(pem), C(thumbprint), C(subject), C(issuer), C(not_before),
    C(not_after), C(has_private_key), C(dns_names). Empty in check mode when one would be created.
  returned: when transport is https and state is present
  type: dict
certificate_created:
  description: Whether a self-signed certificate was (or in check mode would be) created.
  returned: when transport is https and state is present
  type: bool
"""
