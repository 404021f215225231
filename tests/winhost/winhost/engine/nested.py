"""Runspaces inside a session: ``[RunspaceFactory]::CreateRunspace($Host)`` and ``[PowerShell]``.

The members a script uses to run pipelines in a second runspace of the same process, as
psremoting.core's invoke_command session script does:

- System.Management.Automation.Runspaces.RunspaceFactory.CreateRunspace(PSHost)
  (https://learn.microsoft.com/dotnet/api/system.management.automation.runspaces.runspacefactory.createrunspace):
  a runspace of the same process (same machine, user and process environment: ``$env:`` changes
  are the process's, as on Windows) with its own global scope, location and functions.
  ``Open()``, ``Dispose()``/``Close()``, ``RunspaceStateInfo.State`` (BeforeOpen, Opened, Closed).
- System.Management.Automation.PowerShell
  (https://learn.microsoft.com/dotnet/api/system.management.automation.powershell):
  ``[PowerShell]::Create()``, ``Runspace`` (get/set), ``AddScript(text[, useLocalScope])``,
  ``AddCommand(name[, useLocalScope])``, ``AddParameter(name[, value])``, ``AddArgument``,
  ``AddStatement()`` (each returns the PowerShell), ``BeginInvoke(input, output)`` (runs the
  pipeline in its own thread), ``Stop()``, ``Dispose()``, ``Streams`` (Error, Warning, Verbose,
  Debug, Information, Progress), ``InvocationStateInfo`` (State, Reason), ``HadErrors``.
  A host passed to CreateRunspace is the session's: Write-Host, Read-Host, ``exit`` (SetShouldExit)
  of the inner pipeline reach the client through the pipeline that waits for it.
- System.Management.Automation.PSDataCollection[T]
  (https://learn.microsoft.com/dotnet/api/system.management.automation.psdatacollection-1):
  ``::new()``, ``Add``, ``Complete()``, ``ReadAll()`` (returns and removes the items), ``Count``,
  ``IsOpen``. An empty, completed input collection means "no input" (LocalPipeline:
  ``_useExternalInput = InputStream.IsOpen || InputStream.Count > 0``).
- IAsyncResult: ``IsCompleted``, ``AsyncWaitHandle.WaitOne(ms)``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from psrpcore import Command
from psrpcore.types import ErrorRecord

from winhost.engine.errors import PipelineStopped, PSRuntimeError, not_emulated
from winhost.engine.hosts import HostUIForwarder
from winhost.engine.values import new_object, to_bool, to_number, to_string

if TYPE_CHECKING:
    from winhost.engine.context import ScriptEngine

#: Returned by :func:`call_static` for members this module does not know.
NOT_HANDLED = object()


class DataCollectionValue:
    """PSDataCollection[T]: a thread-safe list a pipeline writes to and a script reads."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.PSDataCollection`1[[System.Management.Automation.PSObject]]"

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()
        self.is_open = True

    def __str__(self) -> str:
        return self.type_name

    def add(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)

    def read_all(self) -> list[Any]:
        with self._lock:
            items, self._items = self._items, []
        return items

    def items(self) -> list[Any]:
        with self._lock:
            return list(self._items)

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "add":
            if not self.is_open:
                raise not_emulated("PSDataCollection.Add after Complete()")
            self.add(args[0] if args else None)
            return None
        if low == "complete":
            self.is_open = False
            return None
        if low == "readall":
            return self.read_all()
        if low in ("dispose", "clear"):
            self.read_all()
            return None
        raise not_emulated(f"the method PSDataCollection.{low}()")

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "count":
            return True, len(self.items())
        if low == "isopen":
            return True, self.is_open
        return False, None

    def set(self, low: str, value: Any) -> bool:
        return False


class NestedRunspaceValue:
    """A runspace created inside the session's process (LocalRunspace)."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.Runspaces.LocalRunspace"

    def __init__(self, ev: ScriptEngine) -> None:
        ctx = ev.ctx
        if ctx.new_runspace is None:
            raise not_emulated("[RunspaceFactory]::CreateRunspace outside a runspace")
        self.runspace = ctx.new_runspace()
        # One process: the environment is the session process's, not a copy.
        self.runspace.process_env = ctx.process_env
        self.state = "BeforeOpen"
        self.busy = threading.Lock()

    def __str__(self) -> str:
        return self.type_name

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "open":
            if self.state != "BeforeOpen":
                raise not_emulated("Runspace.Open() of a runspace that is not new")
            self.state = "Opened"
            return None
        if low in ("dispose", "close"):
            self.state = "Closed"
            return None
        raise not_emulated(f"the method Runspace.{low}()")

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "runspacestateinfo":
            return True, new_object(
                ["System.Management.Automation.Runspaces.RunspaceStateInfo", "System.Object"],
                {"State": self.state, "Reason": None},
                to_string_value=self.state,
            )
        if low == "id":
            return True, id(self) & 0x7FFFFFFF
        return False, None

    def set(self, low: str, value: Any) -> bool:
        return False


class _InnerHost(HostUIForwarder):
    """The PipelineHost of a pipeline run by [PowerShell]: streams into the PowerShell's
    collections, host calls (Write-Host, Read-Host, SetShouldExit) to the waiting pipeline's host."""

    def __init__(
        self, outer: Any, output: DataCollectionValue, streams: dict[str, DataCollectionValue]
    ) -> None:
        self.outer = outer
        self.ui_host = outer
        self.output = output
        self.streams = streams
        self.stop_requested = threading.Event()
        for name in ("host_call", "host_default_data"):
            if hasattr(outer, name):
                setattr(self, name, getattr(outer, name))

    def write_output(self, value: Any) -> None:
        self.output.add(value)

    def write_error(self, record: ErrorRecord) -> None:
        self.streams["error"].add(record)

    def _message(self, stream: str, type_name: str, message: str) -> None:
        self.streams[stream].add(
            new_object(
                [type_name, "System.Management.Automation.InformationalRecord", "System.Object"],
                {"Message": message},
                to_string_value=message,
            )
        )

    def write_warning(self, message: str) -> None:
        self._message("warning", "System.Management.Automation.WarningRecord", message)

    def write_verbose(self, message: str) -> None:
        self._message("verbose", "System.Management.Automation.VerboseRecord", message)

    def write_debug(self, message: str) -> None:
        self._message("debug", "System.Management.Automation.DebugRecord", message)

    def write_information(self, data: Any, source: str = "", tags: list[str] | None = None) -> None:
        self.streams["information"].add(
            new_object(
                ["System.Management.Automation.InformationRecord", "System.Object"],
                {"MessageData": data, "Source": source, "Tags": list(tags or [])},
                to_string_value=to_string(data),
            )
        )

    def write_progress(self, activity: str, status: str, percent: int = -1) -> None:
        self.streams["progress"].add(
            new_object(
                ["System.Management.Automation.ProgressRecord", "System.Object"],
                {"Activity": activity, "StatusDescription": status, "PercentComplete": percent},
            )
        )


class AsyncResultValue:
    """IAsyncResult of BeginInvoke."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.PowerShellAsyncResult"

    def __init__(self, done: threading.Event) -> None:
        self.done = done

    def __str__(self) -> str:
        return self.type_name

    def call(self, low: str, args: list[Any]) -> Any:
        if low == "waitone":  # AsyncWaitHandle.WaitOne(ms) (the handle is this object)
            timeout = None if not args or to_number(args[0]) < 0 else float(to_number(args[0])) / 1000
            return self.done.wait(timeout)
        raise not_emulated(f"the method IAsyncResult.{low}()")

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "iscompleted":
            return True, self.done.is_set()
        if low == "asyncwaithandle":
            return True, self
        return False, None

    def set(self, low: str, value: Any) -> bool:
        return False


class PowerShellValue:
    """System.Management.Automation.PowerShell over a nested runspace."""

    _winhost_dotnet = True
    type_name = "System.Management.Automation.PowerShell"

    def __init__(self, ev: ScriptEngine) -> None:
        self.ev = ev
        self.runspace: NestedRunspaceValue | None = None
        self.commands: list[Command] = []
        self.streams = {
            name: DataCollectionValue()
            for name in ("error", "warning", "verbose", "debug", "information", "progress")
        }
        self.state = "NotStarted"
        self.reason: Any = None
        self.host: _InnerHost | None = None
        self.done = threading.Event()

    def __str__(self) -> str:
        return self.type_name

    # -- building the pipeline --------------------------------------------------------------------
    def _add(self, low: str, args: list[Any]) -> Any:
        if low in ("addscript", "addcommand"):
            local = to_bool(args[1]) if len(args) > 1 else (False if low == "addscript" else None)
            self.commands.append(
                Command(to_string(args[0]), is_script=low == "addscript", use_local_scope=local)
            )
        elif not self.commands:
            raise not_emulated(f"PowerShell.{low}() before a command")  # .NET: InvalidOperationException
        elif low == "addparameter":
            self.commands[-1].add_parameter(to_string(args[0]), args[1] if len(args) > 1 else None)
        elif low == "addargument":
            self.commands[-1].add_argument(args[0] if args else None)
        elif low == "addstatement":
            self.commands[-1].end_of_statement = True
        return self

    # -- running it -----------------------------------------------------------------------------------
    def _begin_invoke(self, args: list[Any]) -> AsyncResultValue:
        if self.runspace is None:
            raise not_emulated("[PowerShell]::Create() without a Runspace (a new default runspace)")
        if self.runspace.state != "Opened":
            raise not_emulated("BeginInvoke on a runspace that is not open")
        if len(args) != 2 or not all(isinstance(a, DataCollectionValue) for a in args):
            raise not_emulated("BeginInvoke() other than BeginInvoke(PSDataCollection, PSDataCollection)")
        source, output = args[0], args[1]
        if source.is_open:
            raise not_emulated("BeginInvoke with an input collection that is still open")
        items = source.items()
        has_input = bool(items)  # completed and empty: no input (IsOpen || Count > 0)
        self.host = _InnerHost(self.ev.ctx.host, output, self.streams)
        commands = [c for c in self.commands if c.command_text or c.is_script]
        runspace = self.runspace
        host = self.host
        self.state = "Running"

        def run() -> None:
            try:
                with runspace.busy:
                    runspace.runspace.invoke(commands, iter(items) if has_input else None, host)
                self.state = "Completed"
            except PipelineStopped:
                self.state = "Stopped"
            except PSRuntimeError as exc:
                self.state = "Failed"
                self.reason = exc.record
            except BaseException as exc:  # an emulation gap: reported as the pipeline's failure
                self.state = "Failed"
                self.reason = getattr(exc, "record", None) or str(exc)
            finally:
                self.done.set()

        threading.Thread(target=run, name="winhost-nested-pipeline", daemon=True).start()
        return AsyncResultValue(self.done)

    def call(self, low: str, args: list[Any]) -> Any:
        if low in ("addscript", "addcommand", "addparameter", "addargument", "addstatement"):
            return self._add(low, args)
        if low == "begininvoke":
            return self._begin_invoke(args)
        if low == "invoke":
            if args:
                raise not_emulated("PowerShell.Invoke() with input or output collections")
            output = DataCollectionValue()
            done_input = DataCollectionValue()
            done_input.is_open = False
            self._begin_invoke([done_input, output])
            self.done.wait()
            if self.state == "Failed":
                raise (
                    PSRuntimeError(self.reason)
                    if isinstance(self.reason, ErrorRecord)
                    else not_emulated(f"PowerShell.Invoke() failing with {self.reason}")
                )
            return output.read_all()
        if low == "stop":
            if self.host is not None and not self.done.is_set():
                self.host.stop_requested.set()
                self.done.wait()
            return None
        if low == "dispose":
            if self.host is not None and not self.done.is_set():
                self.host.stop_requested.set()
            return None
        raise not_emulated(f"the method PowerShell.{low}()")

    def _reason(self) -> Any:
        if self.reason is None:
            return None
        if isinstance(self.reason, ErrorRecord):
            message = to_string(getattr(self.reason.Exception, "Message", ""))
            return new_object(
                ["System.Management.Automation.RuntimeException", "System.Exception", "System.Object"],
                {"Message": message, "ErrorRecord": self.reason},
                to_string_value=message,
            )
        return new_object(["System.Exception", "System.Object"], {"Message": str(self.reason)})

    def get(self, low: str) -> tuple[bool, Any]:
        if low == "runspace":
            return True, self.runspace
        if low == "streams":
            return True, new_object(
                ["System.Management.Automation.PSDataStreams", "System.Object"],
                {name.capitalize(): coll for name, coll in self.streams.items()},
            )
        if low == "invocationstateinfo":
            return True, new_object(
                ["System.Management.Automation.PSInvocationStateInfo", "System.Object"],
                {"State": self.state, "Reason": self._reason()},
            )
        if low == "haderrors":
            return True, self.state == "Failed" or bool(self.streams["error"].items())
        return False, None

    def set(self, low: str, value: Any) -> bool:
        if low == "runspace":
            if not isinstance(value, NestedRunspaceValue):
                raise not_emulated("PowerShell.Runspace other than a runspace from CreateRunspace")
            self.runspace = value
            return True
        return False


def call_static(ev: ScriptEngine, full: str, low: str, args: list[Any]) -> Any:
    """``[PowerShell]::Create()``, ``[RunspaceFactory]::CreateRunspace(...)``,
    ``[PSDataCollection[psobject]]::new()``; :data:`NOT_HANDLED` for anything else."""
    if full == "system.management.automation.powershell" and low == "create":
        if args:
            raise not_emulated("[PowerShell]::Create() with arguments")
        return PowerShellValue(ev)
    if full == "system.management.automation.runspaces.runspacefactory" and low == "createrunspace":
        if len(args) > 1:
            raise not_emulated("CreateRunspace with an InitialSessionState or connection info")
        return NestedRunspaceValue(ev)
    if full.startswith("system.management.automation.psdatacollection[") and low == "new":
        if args:
            raise not_emulated("PSDataCollection::new() with arguments")
        return DataCollectionValue()
    if full == "system.management.automation.errorrecord" and low == "new":
        exception, error_id, _category, target = (list(args) + [None] * 4)[:4]
        from winhost.engine.errors import make_error_record

        return make_error_record(to_string(getattr(exception, "Message", exception)), to_string(error_id),
                                 target=target)  # fmt: skip
    return NOT_HANDLED
