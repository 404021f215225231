# Copyright (c) psremoting.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module runs as an action plugin (plugins/action/invoke_command.py); this file holds its
# documentation only.

DOCUMENTATION = r"""
module: invoke_command
short_description: Run a PowerShell script block or command on Windows hosts, like Invoke-Command
version_added: "1.0.0"
author: psremoting.core contributors (@psremoting-core)
description:
  - Runs a script block (I(script) or I(path)) or one command (I(command)) in the host's PowerShell
    Remoting session, like C(Invoke-Command -ScriptBlock), and returns the output objects as data.
  - The script text is sent as it is; arguments, parameters, C($Using:) values and input objects are sent as
    typed PSRP values, never put into script text.
  - A script can read and set C($Ansible) (C(Changed), C(Failed), C(Result), C(Diff), C(CheckMode),
    C(Verbosity), C(Tmpdir)) as in M(ansible.windows.win_powershell), so existing scripts carry over.
  - With I(computer_name), one task runs on many inventory hosts at once (one-to-many, like
    C(Invoke-Command -ComputerName a,b,c)), each reached with its own inventory variables.
  - Needs the C(psremoting.core.psrp) connection plugin.
options:
  script:
    description:
      - The script block text. It may have a C(param()) block, read C($args), C($input) and C($Using:name).
      - Exactly one of I(script), I(path) and I(command) is needed.
    type: str
  path:
    description:
      - A C(.ps1) file with the script, read on the controller as UTF-8 (a BOM is allowed), or on the target
        when I(remote_src=true).
      - Like C(Invoke-Command -FilePath).
    type: path
  remote_src:
    description: Read I(path) on the Windows host instead of the controller.
    type: bool
    default: false
  command:
    description:
      - One command (cmdlet, function or executable) to run with I(parameters) and I(arguments), without a
        script block, for example C(Get-Service).
      - In check mode a command runs only when its verb only reads (C(Get), C(Test), C(Find), C(Search),
        C(Measure), C(Resolve), C(Read), C(Select), C(Compare), C(Show)); such a command reports no change.
    type: str
  arguments:
    description:
      - Positional values for the script's C(param()) block or C($args), like C(-ArgumentList).
    type: list
    elements: raw
  parameters:
    description: Named parameters for the script or command, like splatting a hashtable.
    type: dict
  sensitive_parameters:
    description:
      - Parameters whose values are secrets, sent as C(SecureString) or C(PSCredential) objects. They are never
        logged or returned.
    type: list
    elements: dict
    suboptions:
      name:
        description: The parameter name.
        type: str
        required: true
      value:
        description: Sent as a C(SecureString). Mutually exclusive with I(username)/I(password).
        type: str
      username:
        description: Sent as the C(UserName) of a C(PSCredential), with I(password).
        type: str
      password:
        description: The C(Password) of the C(PSCredential).
        type: str
  using:
    description:
      - Values the script reads as C($Using:name). They are sent the way C(Invoke-Command) sends them, as a
        dictionary of typed values next to the script text, not spliced into it.
      - The task fails when the script reads a C($Using:) variable that has no value here.
    type: dict
  input:
    description: Objects given to the script as pipeline input (C($input), C(process {}) blocks).
    type: list
    elements: raw
  error_action:
    description:
      - The C($ErrorActionPreference) of the script. C(stop) makes the first error end the script and fail the
        task; C(silently_continue) drops error records.
    type: str
    choices: [continue, stop, silently_continue]
    default: continue
  session_state:
    description:
      - C(persistent) runs the script in the host's session, as C(Invoke-Command -Session) does; variables
        (C($x = 42) too), functions, imported modules, the location and environment variables set by one
        C(invoke_command) task are there for the next on the same host, for the whole run.
      - C(temporary) runs it in a fresh session that is removed after the task, as
        C(Invoke-Command -ComputerName) does; the persistent session is left as it was.
      - Either way, Ansible's own C(raw), C(script), module tasks and file transfers on the host neither see
        nor change this state. See docs/invoke_command.md in the collection.
    type: str
    choices: [persistent, temporary]
    default: persistent
  depth:
    description:
      - How many levels of nested objects are converted to data, like C(ConvertTo-Json -Depth); deeper values
        become their C(ToString()) text.
    type: int
    default: 2
  chdir:
    description: The working directory (C(Push-Location)) of the script; restored afterwards.
    type: str
  creates:
    description: A path on the Windows host; when it exists the task is skipped.
    type: str
  removes:
    description: A path on the Windows host; when it does not exist the task is skipped.
    type: str
  computer_name:
    description:
      - Inventory host names to run on instead of the task's own host (one-to-many), from any play host
        (C(localhost), a Linux jump host, a Windows host). Each is reached with the psremoting.core.psrp settings
        of its own host variables, whatever connection the play host uses, in the session broker that holds
        its session (the same session later per-host tasks of the run use).
      - A host whose inventory names another connection is reported in RV(hosts) as C(failed).
      - Results of every host come back in one task result; see RV(hosts). Each host's completion is printed
        as it happens.
    type: list
    elements: str
  throttle_limit:
    description: How many hosts of I(computer_name) run at the same time, like C(-ThrottleLimit).
    type: int
    default: 32
  fail_on:
    description:
      - With I(computer_name), when the task fails. C(any) when one host fails or is unreachable, C(all) only
        when every host does, C(never) to only report per-host status in RV(hosts).
    type: str
    choices: [any, all, never]
    default: any
  disconnected:
    description:
      - Like C(Invoke-Command -InDisconnectedSession). Start the command in a B(new) session on the host,
        disconnect from it and return at once with RV(session_id) and RV(pipeline_id). The command keeps
        running on the host; M(psremoting.core.pssession) with O(psremoting.core.pssession#module:state=received)
        and that O(psremoting.core.pssession#module:session_id) gets its output later (another task, play or
        run), O(psremoting.core.pssession#module:state=stopped) stops it.
      - The new session does not share the state of the play's session. While nobody receives, the host keeps
        the output and pauses the command when its buffer is full (C(OutputBufferingMode) C(Block), see
        I(output_buffering_mode)); it deletes a session nobody receives after the idle timeout of its session
        configuration (two hours by default, see I(disconnected_idle_timeout)).
      - Cannot be combined with I(computer_name), I(creates), I(removes), I(chdir), I(remote_src), a non-default
        I(error_action), nor with a script that uses C($Ansible).
    type: bool
    default: false
  disconnected_idle_timeout:
    description:
      - With I(disconnected=true), how many seconds the host keeps the disconnected session when nobody
        receives it, like C(Disconnect-PSSession -IdleTimeoutSec) or C(New-PSSessionOption -IdleTimeout) with
        C(Invoke-Command -InDisconnectedSession -SessionOption). Sent in the WSMan Disconnect (C(IdleTimeOut)).
      - From 60 to 2147483, and at most the session configuration's C(MaxIdleTimeoutms) (the task fails before
        the command starts when the host reports a lower maximum). Default is the host's, the session
        configuration's C(IdleTimeoutms) (two hours by default).
    type: int
  output_buffering_mode:
    description:
      - With I(disconnected=true), what the host does with the command's output when its buffer is full while
        nobody receives it, like C(-OutputBufferingMode) of C(Disconnect-PSSession) / C(New-PSSessionOption).
        C(block) pauses the command until a client connects; C(drop) lets it run on and discards the oldest
        output (redirect what you need to a file). Sent in the WSMan Disconnect (C(BufferMode)).
      - Default is the host's, the session configuration's C(OutputBufferingMode) (C(Block) by default).
    type: str
    choices: [block, drop]
attributes:
  check_mode:
    support: partial
    description: Whether the module runs in check mode.
    details:
      - A script runs in check mode only when it declares C([CmdletBinding(SupportsShouldProcess)]); it then
        runs with C(-WhatIf). Other scripts are skipped and reported as changed.
  diff_mode:
    support: full
    description: Whether the module reports a diff.
    details: A script sets the diff with C($Ansible.Diff).
extends_documentation_fragment:
  - psremoting.core.attributes.platform
notes:
  - Output objects are converted as described in docs/invoke_command.md of the collection. Enums become
    C({Type, String, Value}), C(DateTime) an ISO 8601 string, objects a dictionary of their properties plus
    what C(Invoke-Command) adds (about_Remote_Output) - C(PSTypeNames) (with the C(Deserialized.) prefix),
    C(PSComputerName) (the inventory name), C(PSShowComputerName) and C(RunspaceId) (the id of the runspace
    pool that ran the command, a GUID).
  - C(SecureString) values the host returns are never decrypted; they show as C(System.Security.SecureString).
  - A script that does not mention C($Ansible), C(chdir) or a non-default I(error_action) is sent as one
    PSRP command; otherwise a constant prelude and postlude script set up and read back C($Ansible).
seealso:
  - module: ansible.windows.win_powershell
  - ref: psremoting.core.format_table filter <ansible_collections.psremoting.core.format_table_filter>
    description: Show the output as a PowerShell table.
"""

EXAMPLES = r"""
- name: Get a service
  psremoting.core.invoke_command:
    script: Get-Service -Name W32Time
  register: w32time

- name: Positional and named parameters
  psremoting.core.invoke_command:
    script: |
      param($Name, $Greeting = 'Hello')
      "$Greeting $Name from $env:COMPUTERNAME"
    arguments: [World]
    parameters:
      Greeting: Hi

- name: $Using values, sent as data
  psremoting.core.invoke_command:
    script: Get-Service -Name $Using:service_name
    using:
      service_name: W32Time

- name: Report change state like win_powershell
  psremoting.core.invoke_command:
    script: |
      [CmdletBinding(SupportsShouldProcess)]
      param ()
      $svc = Get-Service -Name W32Time
      if ($svc.Status -ne 'Running') {
          if ($PSCmdlet.ShouldProcess('W32Time', 'Start')) { Start-Service -Name W32Time }
      }
      else { $Ansible.Changed = $false }

- name: One task, many hosts (in a play on localhost)
  psremoting.core.invoke_command:
    script: Get-Service -Name W32Time
    computer_name: "{{ groups['web'] }}"
    throttle_limit: 16
    fail_on: all
  register: services

- name: Start a long installation and return at once (Invoke-Command -InDisconnectedSession)
  psremoting.core.invoke_command:
    script: C:\temp\install.ps1
    disconnected: true
    disconnected_idle_timeout: 14400  # the host keeps it 4 hours if nobody receives it
  register: started

- name: Later (another play or run), get its output (Receive-PSSession)
  psremoting.core.pssession:
    state: received
    session_id: "{{ started.session_id }}"

- name: Show them as a table
  ansible.builtin.debug:
    msg: "{{ services.output | psremoting.core.format_table(['Name', 'Status']) }}"
"""

RETURN = r"""
output:
  description:
    - The output objects, converted to data. Objects are dictionaries of their properties with C(PSTypeNames),
      C(PSComputerName), C(PSShowComputerName) and C(RunspaceId) (the id of the runspace pool that ran the
      command, a GUID).
  returned: always
  type: list
  elements: raw
  sample:
    - Name: W32Time
      Status: {Type: System.ServiceProcess.ServiceControllerStatus, String: Running, Value: 4}
      PSTypeNames: [Deserialized.System.ServiceProcess.ServiceController, Deserialized.System.ComponentModel.Component]
      PSComputerName: dc01
      RunspaceId: 3f1c0e0a-2b4d-4e6f-8a9b-0c1d2e3f4a5b
      PSShowComputerName: true
result:
  description: The value the script set in C($Ansible.Result).
  returned: always
  type: raw
error:
  description: Error records, shaped like M(ansible.windows.win_powershell)'s.
  returned: always
  type: list
  elements: dict
  contains:
    output: {description: The error as PowerShell shows it., type: str}
    error_details: {description: 'C(message) and C(recommended_action), or null.', type: dict}
    exception: {description: 'C(message), C(type), C(help_link), C(source), C(hresult), C(inner_exception).', type: dict}
    target_object: {description: The object the error is about., type: raw}
    category_info: {description: 'C(category), C(category_id), C(activity), C(reason), C(target_name), C(target_type).', type: dict}
    fully_qualified_error_id: {description: The error id., type: str}
    script_stack_trace: {description: Where the error happened., type: str}
    pipeline_iteration_info: {description: The pipeline iteration numbers., type: list}
warning:
  description: Warning messages (with I(computer_name), dictionaries with C(message) and C(PSComputerName)).
  returned: always
  type: list
verbose:
  description: Verbose messages.
  returned: always
  type: list
debug:
  description: Debug messages.
  returned: always
  type: list
information:
  description: Information records, with C(message_data), C(source), C(time_generated) and C(tags).
  returned: always
  type: list
host_out:
  description: Text written to the host (C(Write-Host)).
  returned: always
  type: str
host_err:
  description: Text written to the host's error output.
  returned: always
  type: str
rc:
  description: The exit code the script set with C(exit), when it did.
  returned: when set
  type: int
session_id:
  description: With I(disconnected=true), the id of the new disconnected session (its ShellId).
  returned: when disconnected is true
  type: str
  sample: 5A1E0C29-8D6B-4B8C-9E2A-3F0D7C1B2A44
pipeline_id:
  description: With I(disconnected=true), the id of the command running in it (the WSMan CommandId).
  returned: when disconnected is true
  type: str
  sample: 0D5C4D1F-5F3E-4C4B-9D6F-1B2A3C4D5E6F
hosts:
  description:
    - With I(computer_name), per-host results keyed by inventory name.
  returned: when computer_name is set
  type: dict
  sample:
    web01: {status: ok, msg: null, changed: true, skipped: false, result: {}, host_out: "", host_err: "", output_count: 1}
    web02: {status: unreachable, msg: "connection refused", changed: false, skipped: false, result: {}, host_out: "", host_err: "", output_count: 0}
"""
