# for internal use by psremoting.core only; not a public API
"""The PSSession state of ``invoke_command``: a runspace of its own inside the host's session.

``Invoke-Command -Session $s`` runs every script block in the same remote runspace, so variables
(``$x = 42`` included), functions, imported modules and the location persist from one command to
the next (about_PSSessions, about_Remote_Variables). Ansible's own ``raw``/``script``/module tasks
and put/fetch run in the runspace of the host's runspace pool; they must neither see nor change
that state, and a function an ``invoke_command`` script defines (``function ConvertFrom-Json``)
must never shadow what the exec wrapper calls.

Design (chosen by measurement, see docs/invoke_command.md "Session state"): the session runspace
is a second runspace *inside* the session's process, created by :data:`SESSION_RUNSPACE_SCRIPT`
on the first ``invoke_command`` task and kept in ``$global:PSRemotingCoreInvokeSession`` of the
pool's runspace. Every ``invoke_command`` pipeline is sent as ONE PSRP script command (this
constant script) whose ``Commands`` parameter describes the pipeline; it runs them in the session
runspace with ``[PowerShell]::Create()`` and passes every stream back. A warm task therefore still
costs one WSMan Command and one Receive, and a host keeps one shell. (The other known design, a
second runspace pool for Ansible's tasks, costs a second shell and a Create + Receive on the
critical path of the first task of the second kind: measured on winhost.)

Environment variables and ``[Environment]::CurrentDirectory`` belong to the process on Windows,
and both runspaces live in the session's process (wsmprovhost.exe). The script gives each side
its own: it saves the process environment Ansible's runspace had, puts the session runspace's
environment in place for the task, and swaps back in ``finally`` (also after a stop or a
terminating error). A process an ``invoke_command`` script starts inherits the session's
environment; a background thread or job it leaves running sees whichever side is in place.

``Temporary`` gives ``Invoke-Command -ComputerName``'s temporary session: a fresh runspace for
this one pipeline, disposed of afterwards; the persistent session runspace is left as it was.

Values never enter the script text: the user's script text, parameters, arguments and input are
values inside the ``Commands``/``InputObjects`` parameters (typed PSRP values).

Sent once per runspace (issue 18): where the connection may cache code in the pool's runspace
(``PSRPSession.payload_cache_allowed``: not on restricted/JEA endpoints), :func:`cached_form`
sends the script once as :data:`SESSION_DEFINITION`, which defines :data:`SESSION_FUNCTION` (its
name carries the script's content hash, so a changed script never meets an old definition) in the
runspace's global scope, and later tasks call that function with the same typed parameters. When
the function is missing (new shell, reset runspace, host restart) the call fails with
CommandNotFoundException before anything ran (:func:`function_missing`) and the caller sends the
task again with the definition.

The ``$Ansible`` prelude and postlude (:data:`PRELUDE`, :data:`PRELUDE_PIPED`, :data:`POSTLUDE`,
used by ``_command.py`` around a script that needs them) are cached the same way: the function
form holds their text in a table (:data:`SESSION_PARTS`, covered by the function's content hash),
and :func:`cached_form` sends a command entry ``Part = <name>`` with the same typed parameters in
place of the text. The plain form (no cache, restricted endpoints) keeps the text in ``Name``.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineCommand,
    PipelineRequest,
    PipelineResult,
)

_PRELUDE_PARAMS = r"""param(
    [bool]$CheckMode,
    [int]$Verbosity,
    [string]$Tmpdir,
    [string]$Location,
    [string]$ErrorActionName
)
"""
_PRELUDE_BODY = r"""
$global:__psremoting_invoke = @{
    ErrorActionPreference = $global:ErrorActionPreference
    Location = $Location
    Tmpdir = $Tmpdir
}
if ($Location) {
    Push-Location -LiteralPath $Location -StackName PSRemotingCore
}
if ($Tmpdir) {
    $null = New-Item -Path $Tmpdir -ItemType Directory -Force
}
if ($ErrorActionName) {
    $global:ErrorActionPreference = $ErrorActionName
}
$global:Ansible = [PSCustomObject]@{
    PSTypeName = 'PSRemoting.Core.InvokeCommand.Ansible'
    CheckMode = $CheckMode
    Verbosity = $Verbosity
    Tmpdir = $Tmpdir
    Changed = $true
    Failed = $false
    Result = @{}
    Diff = @{}
}
"""
# The $Ansible prelude: runs in the session runspace as its own statement before the user's script.
PRELUDE = _PRELUDE_PARAMS + _PRELUDE_BODY
# With pipeline input the prelude is the first command of the user's statement instead, passing
# the input objects through, so they reach the user's script.
PRELUDE_PIPED = _PRELUDE_PARAMS + "begin {" + _PRELUDE_BODY + "}\nprocess {\n    $_\n}\n"

POSTLUDE = r"""$state = $global:Ansible
$saved = $global:__psremoting_invoke
if ($saved) {
    $global:ErrorActionPreference = $saved.ErrorActionPreference
    if ($saved.Location) {
        Pop-Location -StackName PSRemotingCore
    }
    if ($saved.Tmpdir) {
        Remove-Item -LiteralPath $saved.Tmpdir -Recurse -Force -ErrorAction SilentlyContinue
    }
}
Remove-Variable -Name @('Ansible', '__psremoting_invoke') -Scope Global -ErrorAction SilentlyContinue
[PSCustomObject]@{
    PSTypeName = 'PSRemoting.Core.InvokeCommand.State'
    Changed = $state.Changed
    Failed = $state.Failed
}
Write-Output -InputObject $state.Result -NoEnumerate
Write-Output -InputObject $state.Diff -NoEnumerate
"""

SESSION_MARKER = "# psremoting.core invoke_command session v1"

# Parameters: Commands (one hashtable per PSRP command: Name, IsScript, UseLocalScope,
# Parameters = list of @{ Name; Value } in order, Arguments = list, EndOfStatement; in the function
# form, Part = a name of PARTS in place of the script text),
# InputObjects (pipeline input for the first command), switch Temporary.
_SESSION_HEAD = (
    SESSION_MARKER
    + r"""
[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [object[]] $Commands,
    [object[]] $InputObjects = @(),
    [switch] $Temporary
)
"""
)
_SESSION_BODY = r"""# Relay every record of the session runspace, whatever this runspace's preferences say.
$VerbosePreference = 'Continue'
$DebugPreference = 'Continue'

$session = $global:PSRemotingCoreInvokeSession
if ($Temporary -or $null -eq $session -or $session.Runspace.RunspaceStateInfo.State -ne 'Opened') {
    $runspace = [RunspaceFactory]::CreateRunspace($Host)
    $runspace.Open()
    # A new runspace starts where the session's own runspace is.
    $init = [PowerShell]::Create()
    $init.Runspace = $runspace
    $null = $init.AddCommand('Set-Location').AddParameter('LiteralPath', (Get-Location).Path).Invoke()
    $init.Dispose()
    $session = @{
        Runspace = $runspace
        Environment = $null
        EnvironmentText = $null
        Directory = $null
    }
    if (-not $Temporary) {
        $global:PSRemotingCoreInvokeSession = $session
    }
}

# Environment variables belong to the process: swap the session's in, and back out in finally
# (only .NET calls and operators there: a finally block that runs after a stop cannot invoke
# commands). Each side's set is also kept as one text, its names then its values joined by NUL
# (no name or value holds one, and Keys and Values enumerate in the same order), so when the
# sets are equal, as they are unless a task changed one, no variable is visited one by one.
$outerEnvironment = [Environment]::GetEnvironmentVariables()
$outerText = ([string[]]$outerEnvironment.Keys -join "`0") + "`0`0" +
    ([string[]]$outerEnvironment.Values -join "`0")
$outerDirectory = [Environment]::CurrentDirectory
$target = $session.Environment
if ($null -ne $target -and $session.EnvironmentText -cne $outerText) {
    foreach ($name in $outerEnvironment.Keys) {
        if (-not $target.Contains($name)) {
            [Environment]::SetEnvironmentVariable($name, $null)
        }
    }
    foreach ($name in $target.Keys) {
        if ($outerEnvironment[$name] -cne $target[$name]) {
            [Environment]::SetEnvironmentVariable($name, $target[$name])
        }
    }
}
if ($null -ne $session.Directory -and $session.Directory -cne $outerDirectory) {
    [Environment]::CurrentDirectory = $session.Directory
}

$ps = [PowerShell]::Create()
$async = $null
try {
    $ps.Runspace = $session.Runspace
    foreach ($command in $Commands) {
        # Part: a script of the function form's $parts table, named instead of sent (cached_form)
        $text = [string]$command.Name
        if ($command.Part) {
            $text = $parts[[string]$command.Part]
        }
        if ($command.IsScript) {
            $null = $ps.AddScript($text, [bool]$command.UseLocalScope)
        }
        else {
            $null = $ps.AddCommand($text, [bool]$command.UseLocalScope)
        }
        foreach ($parameter in $command.Parameters) {
            $null = $ps.AddParameter([string]$parameter.Name, $parameter.Value)
        }
        foreach ($argument in $command.Arguments) {
            $null = $ps.AddArgument($argument)
        }
        if ($command.EndOfStatement) {
            $null = $ps.AddStatement()
        }
    }
    # An empty, completed input collection is "no input" (LocalPipeline: IsOpen || Count > 0).
    $inputData = [System.Management.Automation.PSDataCollection[psobject]]::new()
    foreach ($item in $InputObjects) {
        $inputData.Add($item)
    }
    $inputData.Complete()
    $outputData = [System.Management.Automation.PSDataCollection[psobject]]::new()
    $streams = $ps.Streams
    $relay = {
        foreach ($item in $outputData.ReadAll()) {
            , $item
        }
        foreach ($record in $streams.Error.ReadAll()) {
            $PSCmdlet.WriteError($record)
        }
        foreach ($record in $streams.Warning.ReadAll()) {
            $PSCmdlet.WriteWarning($record.Message)
        }
        foreach ($record in $streams.Verbose.ReadAll()) {
            $PSCmdlet.WriteVerbose($record.Message)
        }
        foreach ($record in $streams.Debug.ReadAll()) {
            $PSCmdlet.WriteDebug($record.Message)
        }
        foreach ($record in $streams.Information.ReadAll()) {
            $PSCmdlet.WriteInformation($record)
        }
        foreach ($record in $streams.Progress.ReadAll()) {
            $PSCmdlet.WriteProgress($record)
        }
    }
    $async = $ps.BeginInvoke($inputData, $outputData)
    # Wait in short steps: a stop of this pipeline lands between them and reaches finally.
    while (-not $async.AsyncWaitHandle.WaitOne(100)) {
        & $relay
    }
    & $relay
    $info = $ps.InvocationStateInfo
    if ($info.State -eq 'Failed') {
        $record = $info.Reason.ErrorRecord
        if ($null -eq $record) {
            $record = [System.Management.Automation.ErrorRecord]::new(
                $info.Reason, 'SessionRunspaceFailed', 'NotSpecified', $null)
        }
        $PSCmdlet.ThrowTerminatingError($record)
    }
}
finally {
    if ($null -ne $async -and -not $async.IsCompleted) {
        $ps.Stop()
    }
    $ps.Dispose()
    if ($Temporary) {
        $session.Runspace.Dispose()
    }
    $sessionEnvironment = [Environment]::GetEnvironmentVariables()
    $sessionText = ([string[]]$sessionEnvironment.Keys -join "`0") + "`0`0" +
        ([string[]]$sessionEnvironment.Values -join "`0")
    if (-not $Temporary) {
        $session.Environment = $sessionEnvironment
        $session.EnvironmentText = $sessionText
        $session.Directory = [Environment]::CurrentDirectory
    }
    if ($sessionText -cne $outerText) {
        foreach ($name in $sessionEnvironment.Keys) {
            if (-not $outerEnvironment.Contains($name)) {
                [Environment]::SetEnvironmentVariable($name, $null)
            }
        }
        foreach ($name in $outerEnvironment.Keys) {
            if ($sessionEnvironment[$name] -cne $outerEnvironment[$name]) {
                [Environment]::SetEnvironmentVariable($name, $outerEnvironment[$name])
            }
        }
    }
    [Environment]::CurrentDirectory = $outerDirectory
}
"""
SESSION_RUNSPACE_SCRIPT = _SESSION_HEAD + _SESSION_BODY

#: The scripts the function form holds, by the name a ``Part`` entry gives (single-quoted here-strings:
#: none of them has a line starting with ``'@``).
PARTS = {"Prelude": PRELUDE, "PreludePiped": PRELUDE_PIPED, "Postlude": POSTLUDE}
_PART_NAMES = {text: name for name, text in PARTS.items()}
SESSION_PARTS = (
    "$parts = @{\n"
    + "".join(f"    {name} = @'\n{text.rstrip(chr(10))}\n'@\n" for name, text in PARTS.items())
    + "}\n"
)
# The script above, with the parts, as a global function of the pool's runspace, named by its
# content hash.
_SESSION_FUNCTION_BODY = _SESSION_HEAD + SESSION_PARTS + _SESSION_BODY
SESSION_FUNCTION = (
    "Invoke-PSRemotingCoreSession_" + hashlib.sha256(_SESSION_FUNCTION_BODY.encode("utf-8")).hexdigest()[:16]
)
SESSION_DEFINITION = (
    "# psremoting.core invoke_command session definition v2\nfunction global:"
    + SESSION_FUNCTION
    + " {\n"
    + _SESSION_FUNCTION_BODY
    + "\n}\n"
)


def session_commands(commands: list[PipelineCommand]) -> list[dict[str, Any]]:
    """The ``Commands`` parameter value for the PipelineCommands of one request (ordered). A key
    whose value would be false or empty is left out (the script reads a missing key as $null:
    false, no parameters, no arguments): each entry costs the host a deserialized object pair."""
    out: list[dict[str, Any]] = []
    for cmd in commands:
        entry: dict[str, Any] = {"Name": cmd["name"]}
        if cmd.get("is_script"):
            entry["IsScript"] = True
        if cmd.get("use_local_scope"):
            entry["UseLocalScope"] = True
        if cmd.get("parameters"):
            entry["Parameters"] = [{"Name": k, "Value": v} for k, v in (cmd.get("parameters") or {}).items()]
        if cmd.get("arguments"):
            entry["Arguments"] = list(cmd.get("arguments") or [])
        if cmd.get("end_of_statement"):
            entry["EndOfStatement"] = True
        out.append(entry)
    return out


def in_session(request: PipelineRequest, *, temporary: bool = False) -> PipelineRequest:
    """``request`` (a PipelineRequest) rewritten to run in the session runspace (or a temporary
    one): one script command, the pipeline and its input as typed parameters."""
    parameters: dict[str, Any] = {"Commands": session_commands(list(request["commands"]))}
    if request.get("input"):
        parameters["InputObjects"] = list(request["input"])
    if temporary:
        parameters["Temporary"] = True
    wrapped: dict[str, Any] = {
        key: value for key, value in request.items() if key not in ("commands", "input")
    }
    wrapped["commands"] = [
        {
            "name": SESSION_RUNSPACE_SCRIPT,
            "is_script": True,
            "use_local_scope": True,
            "parameters": parameters,
        }
    ]
    return cast(PipelineRequest, wrapped)


def cached_form(request: PipelineRequest, *, defined: bool) -> PipelineRequest | None:
    """``request`` (an :func:`in_session` request) calling :data:`SESSION_FUNCTION`, preceded by
    :data:`SESSION_DEFINITION` unless the runspace is believed to hold it (``defined``); None
    when ``request`` is not a session wrapper. The parameters are the wrapper's own, except that a
    prelude/postlude entry names its :data:`PARTS` script instead of carrying the text."""
    commands = request.get("commands") or []
    if len(commands) != 1 or commands[0].get("name") != SESSION_RUNSPACE_SCRIPT:
        return None
    sent: list[PipelineCommand] = []
    if not defined:
        sent.append(
            PipelineCommand(
                name=SESSION_DEFINITION, is_script=True, use_local_scope=True, end_of_statement=True
            )
        )
    parameters = dict(commands[0].get("parameters") or {})
    parameters["Commands"] = [_as_part(entry) for entry in parameters.get("Commands") or []]
    sent.append(PipelineCommand(name=SESSION_FUNCTION, is_script=False, parameters=parameters))
    cached: dict[str, Any] = {key: value for key, value in request.items() if key != "commands"}
    cached["commands"] = sent
    return cast(PipelineRequest, cached)


def _as_part(entry: dict[str, Any]) -> dict[str, Any]:
    """A ``Commands`` entry whose script is one of :data:`PARTS`, naming it instead of sending it."""
    name = _PART_NAMES.get(str(entry.get("Name"))) if entry.get("IsScript") else None
    if name is None:
        return entry
    return {**entry, "Name": "", "Part": name}


def function_missing(result: PipelineResult) -> bool:
    """Whether a :func:`cached_form` call found no :data:`SESSION_FUNCTION` in the runspace:
    nothing ran (no output), and the task must be sent again with the definition."""
    return not result.get("output") and any(
        str(error.get("fully_qualified_error_id", "")).startswith("CommandNotFoundException")
        and SESSION_FUNCTION.lower()
        in (str(error.get("target_object", "")) + str(error.get("message", ""))).lower()
        for error in result.get("error") or []
    )
