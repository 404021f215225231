# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of the psremoting.core.psrp connection plugin (ansible.builtin.psrp's, plus sessions).

Kept apart from ``plugins/connection/psrp.py`` so that the plugin stays the thin adapter Ansible sees.
``plugin_utils/psrp/_options.py`` reads these options (its table is tested against this fragment and
against the installed ansible-core's own psrp plugin).
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  remote_addr:
    description: Host name or address to connect to.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_winrm_host
      - name: ansible_psrp_host
  remote_user:
    description: The user to authenticate as.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_winrm_user
      - name: ansible_psrp_user
    keyword:
      - name: remote_user
  remote_password:
    description:
      - Password of O(remote_user); can be given with C(--ask-pass).
      - Marked C(secret) as in P(ansible.builtin.psrp#connection) of ansible-core 2.22, which then
        masks the value wherever it would appear in output; older ansible-core ignores the mark.
    type: str
    secret: true
    vars:
      - name: ansible_password
      - name: ansible_winrm_pass
      - name: ansible_winrm_password
    aliases:
      - password
  port:
    description:
      - TCP port of the WinRM listener.
      - V(5986) when O(protocol) is unset or V(https), else V(5985).
    type: int
    vars:
      - name: ansible_port
      - name: ansible_winrm_port
      - name: ansible_psrp_port
    keyword:
      - name: port
  protocol:
    description:
      - V(http) or V(https). When unset, V(https) unless O(port) is V(5985).
    type: str
    choices: [http, https]
    vars:
      - name: ansible_winrm_scheme
      - name: ansible_psrp_protocol
  path:
    description: URI path of the WSMan endpoint.
    type: str
    default: wsman
    vars:
      - name: ansible_winrm_path
      - name: ansible_psrp_path
  auth:
    description:
      - Authentication protocol. V(negotiate) tries Kerberos and falls back to NTLM.
    type: str
    default: negotiate
    choices: [basic, certificate, negotiate, kerberos, ntlm, credssp]
    vars:
      - name: ansible_psrp_auth
  cert_validation:
    description: V(validate) the server's TLS certificate, or V(ignore) it.
    type: str
    default: validate
    choices: [validate, ignore]
    vars:
      - name: ansible_winrm_server_cert_validation
      - name: ansible_psrp_cert_validation
  ca_cert:
    description: PEM CA bundle used to validate the server certificate.
    type: path
    aliases: [cert_trust_path]
    vars:
      - name: ansible_winrm_ca_trust_path
      - name: ansible_psrp_cert_trust_path
      - name: ansible_psrp_ca_cert
  connection_timeout:
    description: Seconds to wait for the TCP/TLS connection.
    type: int
    default: 30
    vars:
      - name: ansible_psrp_connection_timeout
  read_timeout:
    description: Seconds to wait for an HTTP response; must be greater than O(operation_timeout).
    type: int
    default: 30
    vars:
      - name: ansible_winrm_read_timeout_sec
      - name: ansible_psrp_read_timeout
  reconnection_retries:
    description:
      - Retries on connection errors (HTTP 503/429/425, a refused or dropped connection).
      - A connection that drops while a command runs is reopened this many times to receive the rest of
        the output from the same shell and pipeline; the command is never sent again (see docs/connection.md).
    type: int
    default: 0
    vars:
      - name: ansible_psrp_reconnection_retries
  reconnection_backoff:
    description: Seconds of backoff between reconnection attempts (doubles each time, at most 30; reconnecting
      to a running command waits a random 50-100% of that).
    type: int
    default: 2
    vars:
      - name: ansible_psrp_connection_backoff
      - name: ansible_psrp_reconnection_backoff
  message_encryption:
    description:
      - V(auto) encrypts WSMan messages when not using HTTPS, V(always) also over HTTPS,
        V(never) disables message encryption.
    type: str
    default: auto
    choices: [auto, always, never]
    vars:
      - name: ansible_winrm_message_encryption
      - name: ansible_psrp_message_encryption
  proxy:
    description: Proxy URL.
    type: str
    vars:
      - name: ansible_psrp_proxy
  ignore_proxy:
    description: Ignore proxy settings from the environment (ignored when O(proxy) is set).
    type: bool
    default: false
    vars:
      - name: ansible_psrp_ignore_proxy
  certificate_key_pem:
    description: Local path of the client certificate key for V(certificate) auth.
    type: path
    vars:
      - name: ansible_winrm_cert_key_pem
      - name: ansible_psrp_certificate_key_pem
  certificate_key_password:
    description:
      - Password of the O(certificate_key_pem) key file when it is encrypted.
      - Added to P(ansible.builtin.psrp#connection) in ansible-core 2.21; accepted here with every
        supported ansible-core. Marked C(secret) (masked in output on ansible-core 2.22+).
    type: str
    secret: true
    vars:
      - name: ansible_psrp_certificate_key_password
  certificate_pem:
    description: Local path of the client certificate for V(certificate) auth.
    type: path
    vars:
      - name: ansible_winrm_cert_pem
      - name: ansible_psrp_certificate_pem
  credssp_auth_mechanism:
    description: Inner mechanism for CredSSP.
    type: str
    default: auto
    choices: [auto, kerberos, ntlm]
    vars:
      - name: ansible_winrm_credssp_auth_mechanism
      - name: ansible_psrp_credssp_auth_mechanism
  credssp_disable_tlsv1_2:
    description: Disable TLS 1.2 on the CredSSP channel (only for very old hosts).
    type: bool
    default: false
    vars:
      - name: ansible_winrm_credssp_disable_tlsv1_2
      - name: ansible_psrp_credssp_disable_tlsv1_2
  credssp_minimum_version:
    description: Minimum CredSSP server version (V(5) requires the CVE-2018-0886 fix).
    type: int
    default: 2
    vars:
      - name: ansible_winrm_credssp_minimum_version
      - name: ansible_psrp_credssp_minimum_version
  negotiate_delegate:
    description: Allow Kerberos credential delegation.
    type: bool
    vars:
      - name: ansible_winrm_kerberos_delegation
      - name: ansible_psrp_negotiate_delegate
  negotiate_hostname_override:
    description: Host name used for the Kerberos SPN instead of O(remote_addr).
    type: str
    vars:
      - name: ansible_winrm_kerberos_hostname_override
      - name: ansible_psrp_negotiate_hostname_override
  negotiate_send_cbt:
    description: Send channel binding tokens over HTTPS.
    type: bool
    default: true
    vars:
      - name: ansible_winrm_send_cbt
      - name: ansible_psrp_negotiate_send_cbt
  negotiate_service:
    description:
      - Service part of the Kerberos SPN.
      - When not set, the default of P(ansible.builtin.psrp#connection) of the installed
        ansible-core is used, V(WSMAN) up to ansible-core 2.20 and V(host) from ansible-core 2.21
        (where the builtin changed it because V(WSMAN) fails on some hosts).
    type: str
    vars:
      - name: ansible_winrm_service
      - name: ansible_psrp_negotiate_service
  operation_timeout:
    description: WSMan OperationTimeout in seconds (long-poll length of a Receive).
    type: int
    default: 20
    vars:
      - name: ansible_winrm_operation_timeout_sec
      - name: ansible_psrp_operation_timeout
  no_profile:
    description:
      - Do not load the user's PowerShell profile when the session is opened.
      - Added to P(ansible.builtin.psrp#connection) in ansible-core 2.21; accepted here with every
        supported ansible-core.
    type: bool
    default: false
    vars:
      - name: ansible_psrp_no_profile
  max_envelope_size:
    description:
      - Maximum WSMan envelope size in bytes. With the default the client moves to 512000 once the
        server reports protocol 2.2 or newer (Windows 8 / Server 2012 and later).
    type: int
    default: 153600
    vars:
      - name: ansible_psrp_max_envelope_size
  configuration_name:
    description: PowerShell session configuration (endpoint) to connect to, e.g. a JEA endpoint.
    type: str
    default: Microsoft.PowerShell
    vars:
      - name: ansible_psrp_configuration_name
  session_persist:
    description:
      - Keep the PSRP session open in the session broker and reuse it for later tasks and plays
        of the same run.
      - V(false) opens and closes a session per task like P(ansible.builtin.psrp#connection).
    type: bool
    default: true
    env:
      - name: ANSIBLE_PSRP_SESSION_PERSIST
    ini:
      - section: psremoting_psrp
        key: session_persist
    vars:
      - name: ansible_psrp_session_persist
  session_idle_timeout:
    description:
      - Seconds a persistent session may stay unused before the broker closes it.
      - The server-side shell IdleTimeOut is set to this plus 30 seconds (at least 60) so the
        server drops the shell by itself if the broker is killed.
    type: int
    default: 60
    env:
      - name: ANSIBLE_PSRP_SESSION_IDLE_TIMEOUT
    ini:
      - section: psremoting_psrp
        key: session_idle_timeout
    vars:
      - name: ansible_psrp_session_idle_timeout
  session_dir:
    description:
      - Directory of the broker's Unix socket (created with mode 0700). Holds no secrets.
      - It must be this user's own, not a shared sticky directory such as C(/tmp) (use a directory
        inside it), and not below a directory everyone can write that is not sticky. A path that cannot
        be created gives a warning and a per-task session.
    type: path
    default: ~/.ansible/psrp_sessions
    env:
      - name: ANSIBLE_PSRP_SESSION_DIR
    ini:
      - section: psremoting_psrp
        key: session_dir
    vars:
      - name: ansible_psrp_session_dir
  max_output_size:
    description:
      - Bytes of results one command (a C(raw), C(script) or module task, an C(invoke_command)
        pipeline) may return, counted as the host sends them (serialized objects, base64-encoded
        by PSRP, about 1.4 times the text for plain text output).
      - A command that returns more is stopped on the host and the task fails with a message
        naming this option, instead of filling the controller's memory. With persistent
        sessions the broker holds about one copy of a command's output while it arrives.
      - File transfers (C(fetch)) stream to disk and are not limited by it.
    type: int
    default: 536870912
    env:
      - name: ANSIBLE_PSRP_MAX_OUTPUT_SIZE
    ini:
      - section: psremoting_psrp
        key: max_output_size
    vars:
      - name: ansible_psrp_max_output_size
  orphan_idle:
    description:
      - Seconds a PowerShell session (WSMan shell) created by this collection (its name starts with
        C(psremoting.core broker)) must have been idle (C(ShellInactivity) as the host reports it)
        before the session broker treats it as left by a broker that was killed, and deletes it.
      - The broker checks once per host, user and run, when it opens its session (one WSMan
        Enumerate added to the first task on the host), so orphans are removed even where the
        session directory did not survive (AWX/AAP run each job in a fresh container).
      - Shells of the same machine whose broker still runs, shells this broker holds, disconnected
        shells and shells without the collection's name are never touched.
      - A live broker uses its shell at least every O(operation_timeout) while a command runs and
        closes it after O(session_idle_timeout) idle, so the value used is never below this run's
        shell idle timeout (O(session_idle_timeout) + 30). Keep it above the O(session_idle_timeout)
        and O(operation_timeout) of every other run of the same user on the host.
      - V(0) disables the check.
    type: int
    default: 600
    env:
      - name: ANSIBLE_PSRP_ORPHAN_IDLE
    ini:
      - section: psremoting_psrp
        key: orphan_idle
    vars:
      - name: ansible_psrp_orphan_idle
  winrm_transport:
    description:
      - V(ansible_winrm_transport) of an C(ansible.builtin.winrm) inventory, translated to O(auth)
        (V(ssl), V(plaintext) and V(basic) are Basic; V(plaintext) also sets O(message_encryption)
        to V(never)). Only the first transport of a list is used. O(auth) set by
        C(ansible_psrp_auth) wins. See docs/connection.md, "Moving from ansible.builtin.winrm".
    type: list
    elements: str
    vars:
      - name: ansible_winrm_transport
  winrm_connection_timeout:
    description:
      - V(ansible_winrm_connection_timeout) of an C(ansible.builtin.winrm) inventory. As in that
        plugin it sets O(operation_timeout) to the value and O(read_timeout) to the value plus 10,
        unless C(ansible_psrp_operation_timeout) / C(ansible_psrp_read_timeout) are set.
    type: int
    vars:
      - name: ansible_winrm_connection_timeout
  winrm_proxy:
    description:
      - V(ansible_winrm_proxy) of an C(ansible.builtin.winrm) inventory (pywinrm's C(proxy)). A URL
        sets O(proxy); V(legacy_requests) (pywinrm's default) keeps the environment's proxy, as
        this plugin does by default. C(ansible_psrp_proxy) wins.
    type: str
    vars:
      - name: ansible_winrm_proxy
"""
