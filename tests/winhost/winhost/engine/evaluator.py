"""The script-subset evaluator: walks tree-sitter-powershell syntax trees.

The subset is documented in tests/winhost/SCRIPT_SUBSET.md. Any construct outside it raises a
terminating error "winhost does not emulate <construct>" (category NotImplemented).

Statements produce output lazily (generators), so a pipeline streams like PowerShell's: a
cmdlet's output reaches the next command (and the client) while the first one still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from psrpcore.types import ErrorCategory, ErrorRecord, PSObject

from winhost.engine.binding import bind_parameters, command_arguments
from winhost.engine.cmdlets.registry import CmdletSpec, lookup
from winhost.engine.context import CommandCall, CommandPosition, ExecutionContext, Scope
from winhost.engine.errors import (
    BreakSignal,
    ContinueSignal,
    ExitSignal,
    FlowControl,
    PipelineStopped,
    PSRuntimeError,
    ReturnSignal,
    command_not_found,
    make_error_record,
    not_emulated,
    terminating,
)
from winhost.engine.formatting import format_in_string
from winhost.engine.methods import call_method
from winhost.engine.native import is_program_path, program_name, run_native
from winhost.engine.operators import add, arith, binary, index_value, unary
from winhost.engine.statics import call_static, get_static, set_static
from winhost.engine.syntax import (
    PASS_THROUGH,
    Node,
    command_position,
    find_named_blocks,
    generic_token,
    here_body,
    looks_like_expression,
    named,
    parse,
    parse_number,
    text_of,
    unescape,
    unwrap,
)
from winhost.engine.types import cast_value, resolve_type
from winhost.engine.values import (
    ScriptBlockValue,
    as_list,
    custom_object,
    enumerate_value,
    get_property,
    is_collection,
    like,
    ps_equals,
    regex_match,
    set_property,
    to_bool,
    to_number,
    to_string,
    verbatim_text,
)
from winhost.engine.variables import read_variable, write_variable


class FunctionDef:
    def __init__(self, name: str, body: Node, filter_: bool = False, parameters: Node | None = None) -> None:
        self.name = name
        self.body = body
        self.filter = filter_
        #: ``function f($a, [int]$b = 2) {...}``: the parenthesized declaration (about_Functions),
        #: used when the body has no param() block of its own
        self.parameters = parameters


class Evaluator:
    """Evaluates scripts and runs commands for one pipeline of one runspace."""

    def __init__(self, ctx: ExecutionContext) -> None:
        self.ctx = ctx
        ctx.engine = self

    def script_block(self, text: str, scope: Scope) -> ScriptBlockValue:
        """Script text as a script block defined in ``scope`` ([ScriptBlock]::Create, iex)."""
        return ScriptBlockValue(text, parse(text), scope, self)

    def call_method(self, target: Any, name: str, args: list[Any]) -> Any:
        return call_method(self, target, name, args)

    # ===== entry points ===========================================================================
    def script_stream(
        self,
        text: str,
        params: list[tuple[str | None, Any]],
        input_iter: Iterator[Any] | None,
        local_scope: bool = True,
        expecting_input: bool = False,
    ) -> Iterator[Any]:
        root = parse(text)
        scope = Scope(self.ctx.global_scope) if local_scope else self.ctx.global_scope
        # Invoke-Command sends $using: values as a hashtable parameter named "--%", keyed by
        # base64(UTF-16LE("$using:name")) (what PowerShell 5.1's remoting client writes).
        using = [value for name, value in params if name == "--%"]
        if using and isinstance(using[0], dict):
            scope = scope if local_scope else Scope(self.ctx.global_scope)
            scope.set("__using_values", using[0])
            params = [(name, value) for name, value in params if name != "--%"]
        block = ScriptBlockValue(text, root, self.ctx.global_scope, self)
        return self.invoke_block(block, params, input_iter, scope=scope)

    def command_stream(
        self,
        name: Any,
        params: list[tuple[str | None, Any]],
        input_iter: Iterator[Any] | None,
        scope: Scope,
        *,
        expecting_input: bool = False,
        dot_source: bool = False,
        position: CommandPosition | None = None,
    ) -> Iterator[Any]:
        if isinstance(name, ScriptBlockValue):
            answered = self.ctx.foreign_block(name.text, input_iter) if self.ctx.foreign_block else None
            if answered is not None:
                return iter(answered)
            return self.invoke_block(name, params, input_iter, scope=scope if dot_source else None)
        cmd_name = to_string(name)
        func = scope.find_function(cmd_name)
        if isinstance(func, FunctionDef):
            block = ScriptBlockValue(text_of(func.body), func.body, scope, self)
            return self.invoke_block(
                block, params, input_iter, scope=scope if dot_source else None, parameters=func.parameters
            )
        spec = lookup(cmd_name)
        if spec is None:
            if program_name(cmd_name) is not None:
                return run_native(self.ctx, scope, cmd_name, params)
            raise command_not_found(cmd_name)
        return self._run_cmdlet(spec, params, input_iter, scope, expecting_input, position=position)

    def _run_cmdlet(
        self,
        spec: CmdletSpec,
        params: list[tuple[str | None, Any]],
        input_iter: Iterator[Any] | None,
        scope: Scope,
        expecting_input: bool,
        *,
        position: CommandPosition | None = None,
    ) -> Iterator[Any]:
        args = spec.bind(params)
        call = CommandCall(
            self.ctx, spec, args, scope, input_iter, expecting_input or input_iter is not None, position
        )
        out_var = args.get("OutVariable")
        collected: list[Any] = []
        try:
            for value in spec.func(call):
                self.ctx.check_stop()
                if out_var is not None:
                    collected.append(value)
                yield value
        except PSRuntimeError as exc:
            action = call.error_action
            # A cmdlet's terminating error: -ErrorAction SilentlyContinue does not suppress it
            # (PowerShell semantics), it propagates as a terminating error.
            _ = action
            raise exc
        finally:
            if out_var is not None:
                scope.set(to_string(out_var), collected)

    # ===== script blocks ==========================================================================
    def invoke_block(
        self,
        block: ScriptBlockValue,
        params: list[tuple[str | None, Any]],
        input_iter: Iterator[Any] | None,
        *,
        scope: Scope | None = None,
        dollar_under: Any = None,
        set_under: bool = False,
        parameters: Node | None = None,
    ) -> Iterator[Any]:
        """Run a script block (or whole script) with arguments; ``scope`` given means dot-sourcing;
        ``parameters``: a function's parenthesized parameter declaration."""
        run_scope = scope if scope is not None else Scope(block.scope)
        node = block.node
        parts = named(node) if node.type in {"script_block_expression", "program", "script_block"} else [node]
        param_block: Node | None = parameters
        body: list[Node] = []
        for part in parts:
            if part.type == "param_block":
                param_block = part
            elif part.type == "script_block":
                for sub in named(part):
                    if sub.type == "param_block":
                        param_block = sub
                    else:
                        body.append(sub)
            else:
                body.append(part)
        remaining = bind_parameters(param_block, params, run_scope, self.eval, self.ctx)
        run_scope.set("args", remaining)
        if set_under:
            run_scope.set("_", dollar_under)
            run_scope.set("PSItem", dollar_under)
        try:
            named_blocks = find_named_blocks(body)
            if named_blocks is not None:
                yield from self._run_named_blocks(named_blocks, input_iter, run_scope)
            else:
                run_scope.set("input", list(input_iter) if input_iter is not None else [])
                for stmt in body:
                    yield from self.exec_node(stmt, run_scope)
        except ReturnSignal:
            return

    def _run_named_blocks(
        self, blocks: dict[str, Node], input_iter: Iterator[Any] | None, scope: Scope
    ) -> Iterator[Any]:
        """begin once, process per input object as it arrives (once with $_ = $null when the
        command gets no pipeline input), end once (about_Functions_Advanced_Methods)."""
        if "dynamicparam" in blocks:
            raise not_emulated("dynamicparam blocks")
        scope.set("input", [])
        if "begin" in blocks:
            yield from self.exec_node(blocks["begin"], scope)
        if "process" in blocks:
            items: Iterator[Any] = input_iter if input_iter is not None else iter([None])
            for item in items:
                self.ctx.check_stop()
                scope.set("_", item)
                scope.set("PSItem", item)
                scope.set("input", [item] if input_iter is not None else [])
                if input_iter is not None:
                    for param in scope.variables.get("__pipeline_params") or []:
                        scope.set(param, item)
                yield from self.exec_node(blocks["process"], scope)
        elif input_iter is not None:
            scope.set("input", list(input_iter))
        if "end" in blocks:
            yield from self.exec_node(blocks["end"], scope)

    # ===== statements =============================================================================
    def exec_node(self, node: Node, scope: Scope) -> Iterator[Any]:
        self.ctx.check_stop()
        kind = node.type
        if kind in ("program", "statement_list", "script_block", "script_block_body", "statement_block"):
            for child in named(node):
                if child.type == "param_block":
                    continue
                yield from self.exec_node(child, scope)
                if child.type not in ("statement_list", "script_block", "script_block_body", "comment"):
                    self.ctx.statement_done()  # nested pipelines run between statements
            return
        if kind in ("empty_statement", "comment"):
            return
        if kind == "pipeline":
            before = self.ctx.error_count
            try:
                yield from self.exec_pipeline(node, scope)
            except PSRuntimeError:
                self.ctx.last_status = False
                raise
            self.ctx.last_status = self.ctx.error_count == before
            return
        handler: Callable[[Node, Scope], Iterator[Any]] | None = getattr(self, f"_stmt_{kind}", None)
        if handler is not None:
            yield from handler(node, scope)
            return
        raise not_emulated(f"the statement '{kind.replace('_', ' ')}'", text_of(node)[:60])

    def exec_pipeline(self, node: Node, scope: Scope) -> Iterator[Any]:
        children = named(node)
        if any(c.type == "pipeline_chain_tail" or c.type in ("&&", "||") for c in node.children):
            raise not_emulated("pipeline chain operators (&& and ||)")
        if len(children) == 1 and children[0].type == "assignment_expression":
            self.assign(children[0], scope)
            return
        chain = children[0] if len(children) == 1 else node
        if chain.type != "pipeline_chain":
            if chain.type == "command":
                yield from self.run_commands([chain], scope)
                return
            value = self.eval(chain, scope)
            if not _is_void(chain, value):
                yield from enumerate_value(value)
            return
        elements = named(chain)
        for child in chain.children:
            if not child.is_named and child.type in ("&&", "||"):
                raise not_emulated("pipeline chain operators (&& and ||)")
        yield from self.run_commands(elements, scope)

    def run_commands(self, elements: list[Node], scope: Scope) -> Iterator[Any]:
        stream: Iterator[Any] | None = None
        for index, element in enumerate(elements):
            if element.type == "command":
                where = (index + 1, len(elements))
                stream = self._command_node_stream(element, scope, stream, index > 0, where)
            else:
                if index > 0:
                    raise not_emulated("an expression after '|' in a pipeline", text_of(element))
                value = self.eval(element, scope)
                stream = enumerate_value(value) if not _is_void(element, value) else iter(())
        assert stream is not None
        return stream

    def _command_node_stream(
        self,
        node: Node,
        scope: Scope,
        input_iter: Iterator[Any] | None,
        expecting: bool,
        where: tuple[int, int] = (1, 1),
    ) -> Iterator[Any]:
        invocation = None
        name_node: Node | None = None
        elements: Node | None = None
        for child in named(node):
            if child.type == "command_invokation_operator":
                invocation = text_of(child).strip()
            elif child.type in ("command_name", "command_name_expr"):
                name_node = child
            elif child.type == "command_elements":
                elements = child
        assert name_node is not None
        target: Any
        if name_node.type == "command_name_expr":
            inner = named(name_node)[0]
            if inner.type == "path_command_name" and named(inner) and named(inner)[0].type == "variable":
                target = self.eval(named(inner)[0], scope)
            elif inner.type in ("script_block_expression",):
                target = ScriptBlockValue(text_of(inner), inner, scope, self)
            else:
                target = self.eval(inner, scope) if inner.type != "path_command_name" else text_of(inner)
        else:
            target = text_of(name_node)
            if looks_like_expression(target):
                # The grammar reads e.g. `1..3` in `foreach ($x in 1..3)` as a command name.
                return self.exec_node(parse(target.replace("..", " .. ", 1)), scope)
        if isinstance(target, str) and is_program_path(target):
            if program_name(target) is None:
                raise not_emulated("running native programs and script files", target)
            return run_native(self.ctx, scope, target, command_arguments(elements, scope, None, self.eval))
        spec = lookup(target) if isinstance(target, str) and scope.find_function(target) is None else None
        params = command_arguments(elements, scope, spec, self.eval)
        position = command_position(node, target, where) if isinstance(target, str) else None
        return self.command_stream(
            target,
            params,
            input_iter,
            scope,
            expecting_input=expecting,
            dot_source=invocation == ".",
            position=position,
        )

    # -- control flow statements ------------------------------------------------------------------
    def _stmt_if_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = named(node)
        cond, block = parts[0], parts[1]
        if to_bool(self.eval_pipeline_value(cond, scope)):
            yield from self.exec_node(block, scope)
            return
        for part in parts[2:]:
            if part.type == "elseif_clauses":
                for clause in named(part):
                    c_cond, c_block = named(clause)[0], named(clause)[1]
                    if to_bool(self.eval_pipeline_value(c_cond, scope)):
                        yield from self.exec_node(c_block, scope)
                        return
            elif part.type == "else_clause":
                yield from self.exec_node(named(part)[0], scope)
                return

    def _loop_body(self, block: Node, scope: Scope) -> Iterator[Any]:
        yield from self.exec_node(block, scope)

    def _stmt_foreach_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = named(node)
        var = next(p for p in parts if p.type == "variable")
        source = next(p for p in parts if p.type == "pipeline")
        block = next(p for p in parts if p.type == "statement_block")
        single = self._single_expression(source)
        if single is not None:
            # foreach does not enumerate a $null collection (PowerShell 3.0+): `foreach ($x in
            # $null)` runs no iteration, `foreach ($x in @($null))` runs one.
            collection = self.eval(single, scope)
            values = [] if collection is None else list(enumerate_value(collection))
        else:
            values = list(self.exec_pipeline(source, scope))
        for value in values:
            self.ctx.check_stop()
            scope.set(text_of(var)[1:], value)
            try:
                yield from self._loop_body(block, scope)
            except ContinueSignal:
                continue
            except BreakSignal:
                break

    def _stmt_for_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = {p.type: p for p in named(node)}
        if "for_initializer" in parts:
            for _ in self.exec_node(named(parts["for_initializer"])[0], scope):
                pass
        while True:
            self.ctx.check_stop()
            if "for_condition" in parts and not to_bool(
                self.eval_pipeline_value(named(parts["for_condition"])[0], scope)
            ):
                break
            try:
                yield from self._loop_body(parts["statement_block"], scope)
            except ContinueSignal:
                pass
            except BreakSignal:
                break
            if "for_iterator" in parts:
                for _ in self.exec_node(named(parts["for_iterator"])[0], scope):
                    pass

    def _stmt_while_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = {p.type: p for p in named(node)}
        cond = named(parts["while_condition"])[0]
        while to_bool(self.eval_pipeline_value(cond, scope)):
            self.ctx.check_stop()
            try:
                yield from self._loop_body(parts["statement_block"], scope)
            except ContinueSignal:
                continue
            except BreakSignal:
                break

    def _stmt_do_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = named(node)
        block = next(p for p in parts if p.type == "statement_block")
        cond_node = next(p for p in parts if p.type in ("while_condition",))
        until = any(not c.is_named and c.type == "until" for c in node.children)
        while True:
            self.ctx.check_stop()
            try:
                yield from self._loop_body(block, scope)
            except ContinueSignal:
                pass
            except BreakSignal:
                break
            result = to_bool(self.eval_pipeline_value(named(cond_node)[0], scope))
            if result == until:
                break

    def _stmt_switch_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = named(node)
        params = [p for p in parts if p.type == "switch_parameters"]
        opts = text_of(params[0]).lower() if params else ""
        if "-file" in opts or ("-regex" in opts and "-wildcard" in opts):
            raise not_emulated("switch -File")
        cond = next(p for p in parts if p.type == "switch_condition")
        body = next(p for p in parts if p.type == "switch_body")
        values = as_list(self.eval_pipeline_value(named(cond)[0], scope))
        clauses = [(named(c)[0], named(c)[1]) for cl_list in named(body) for c in named(cl_list)]
        is_default = [text_of(cond_node).strip().lower() == "default" for cond_node, _ in clauses]
        for value in values or [None]:
            try:
                yield from self._switch_value(value, clauses, is_default, opts, scope)
            except ContinueSignal:
                continue
            except BreakSignal:
                break

    def _switch_value(
        self, value: Any, clauses: list[tuple[Node, Node]], is_default: list[bool], opts: str, scope: Scope
    ) -> Iterator[Any]:
        """Run every clause that matches one value, else the default clause (about_Switch)."""
        matched = False
        for (cond_node, block), default in zip(clauses, is_default, strict=True):
            if default:
                continue
            scope.set("_", value)
            if self._switch_matches(cond_node, value, opts, scope):
                matched = True
                yield from self.exec_node(block, scope)
        if not matched:
            for (_, block), default in zip(clauses, is_default, strict=True):
                if default:
                    scope.set("_", value)
                    yield from self.exec_node(block, scope)

    def _switch_matches(self, cond_node: Node, value: Any, opts: str, scope: Scope) -> bool:
        inner = named(cond_node)[0] if named(cond_node) else cond_node
        if inner.type == "script_block_expression":
            sb = ScriptBlockValue(text_of(inner), inner, scope, self)
            return to_bool(_single(list(self.invoke_block(sb, [], None, dollar_under=value, set_under=True))))
        pattern = (
            generic_token(text_of(inner))
            if inner.type in ("generic_token", "simple_name")
            else self.eval(inner, scope)
        )
        if "-wildcard" in opts:
            return like(value, pattern)
        if "-regex" in opts:
            return regex_match(value, pattern) is not None
        return ps_equals(value, pattern)

    def _stmt_try_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        parts = named(node)
        body = parts[0]
        catches = [
            (_catch_types(clause), next(c for c in named(clause) if c.type == "statement_block"))
            for part in parts[1:]
            if part.type == "catch_clauses"
            for clause in named(part)
        ]
        finally_block = next((named(p)[0] for p in parts[1:] if p.type == "finally_clause"), None)
        pending: BaseException | None = None
        try:
            # Output goes down the pipeline as the body writes it, one object at a time
            # (about_Pipelines), not when the try block ends; an error the body raises while
            # streaming is still raised in this frame and caught below.
            yield from self.exec_node(body, scope)
        except PSRuntimeError as exc:
            handler = next(
                (
                    b
                    for types, b in catches
                    if not types or any(_exception_matches(exc.record, t) for t in types)
                ),
                None,
            )
            if handler is None:
                pending = exc
            else:
                pending = yield from self._run_catch(handler, exc.record, scope)
        except FlowControl as flow:
            pending = flow
        except PipelineStopped as stopped:
            # about_Try_Catch_Finally: a finally block runs even when the pipeline is stopped
            # (CTRL+C); its output goes nowhere, the stop goes on afterwards.
            if finally_block is not None:
                with self.ctx.stopping_finally():
                    for _ in self.exec_node(finally_block, scope):
                        pass
            raise stopped
        if finally_block is not None:
            yield from self.exec_node(finally_block, scope)
        if pending is not None:
            raise pending

    def _run_catch(
        self, handler: Node, record: ErrorRecord, scope: Scope
    ) -> Generator[Any, None, BaseException | None]:
        """Run a catch block with $_ = the error; returns what it raised (to re-raise after
        finally), or None."""
        scope.set("_", record)
        scope.set("PSItem", record)
        self.ctx.handling.append(record)
        try:
            yield from self.exec_node(handler, scope)
        except (PSRuntimeError, FlowControl) as inner:
            return inner
        finally:
            self.ctx.handling.pop()
        return None

    def _stmt_flow_control_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        keyword = next(c.type for c in node.children if not c.is_named)
        args = [c for c in named(node) if c.type == "pipeline"]
        if keyword == "throw":
            if not args and self.ctx.handling and _inside_catch(node):
                # about_Throw: in a catch block, throw without an expression rethrows the
                # current error (ThrowStatementAst.IsRethrow: a catch clause encloses it).
                raise PSRuntimeError(self.ctx.handling[-1])
            value = self.eval_pipeline_value(args[0], scope) if args else None
            raise self._throw(value)
        if keyword == "return":
            if args:
                yield from self.exec_pipeline(args[0], scope)
            raise ReturnSignal()
        if keyword == "break":
            raise BreakSignal()
        if keyword == "continue":
            raise ContinueSignal()
        if keyword == "exit":
            code = to_number(self.eval_pipeline_value(args[0], scope)) if args else 0
            scope.root().set("LASTEXITCODE", int(code))
            raise ExitSignal(int(code))
        raise not_emulated(f"the '{keyword}' statement")

    def _throw(self, value: Any) -> PSRuntimeError:
        if isinstance(value, ErrorRecord):
            return PSRuntimeError(value)
        if isinstance(value, PSObject) and "System.Exception" in value.PSObject.type_names:
            record = make_error_record(
                to_string(value.Message),
                to_string(value.Message),
                ErrorCategory.OperationStopped,
                exception_type=value.PSObject.type_names[0],
            )
            record.Exception = value
            return PSRuntimeError(record)
        message = "ScriptHalted" if value is None else to_string(value)
        return PSRuntimeError(
            make_error_record(message, message, ErrorCategory.OperationStopped, target=value)
        )

    def _stmt_function_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        name = text_of(next(c for c in named(node) if c.type == "function_name"))
        body = (
            next(c for c in named(node) if c.type == "script_block")
            if any(c.type == "script_block" for c in named(node))
            else None
        )
        is_filter = any(not c.is_named and c.type == "filter" for c in node.children)
        declaration = next((c for c in named(node) if c.type == "function_parameter_declaration"), None)
        if body is None:
            body = parse("")
        target = scope
        if ":" in name:
            prefix, name = name.split(":", 1)
            if prefix.lower() in ("global", "script"):
                target = scope.root()
        target.functions[name] = FunctionDef(name, body, is_filter, declaration)
        return iter(())

    def _stmt_trap_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        raise not_emulated("trap statements")

    def _stmt_class_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        raise not_emulated("class definitions")

    def _stmt_enum_statement(self, node: Node, scope: Scope) -> Iterator[Any]:
        raise not_emulated("enum definitions")

    # ===== expressions ============================================================================
    def eval_pipeline_value(self, node: Node, scope: Scope) -> Any:
        """A pipeline used as a value (if conditions, assignments): one object or an array."""
        if node.type == "pipeline":
            single = self._single_expression(node)
            if single is not None:
                # $x = @(1) keeps the one-element array; only command output is collected.
                return self.eval(single, scope)
            values = list(self.exec_pipeline(node, scope))
            return _collapse(values)
        if node.type.endswith("_statement"):
            # $x = if (...) {...} / foreach / switch / try: the statement's output is the value.
            return _collapse(list(self.exec_node(node, scope)))
        return self.eval(node, scope)

    @staticmethod
    def _single_expression(node: Node) -> Node | None:
        """The expression of a pipeline that is just one expression (no command, no assignment)."""
        if any(c.type == "pipeline_chain_tail" for c in node.children):
            return None
        children = named(node)
        if len(children) != 1:
            return None
        inner = children[0]
        while inner.type == "pipeline_chain" and len(named(inner)) == 1:
            inner = named(inner)[0]
        if inner.type in ("command", "assignment_expression", "pipeline_chain", "pipeline"):
            return None
        if _is_void(inner, _NOT_NONE):
            return None
        return inner

    def eval(self, node: Node, scope: Scope) -> Any:
        node = unwrap(node)
        kind = node.type
        if kind in PASS_THROUGH:
            return self._eval_operator(node, scope)
        handler: Callable[[Node, Scope], Any] | None = getattr(self, f"_ex_{kind}", None)
        if handler is None:
            raise not_emulated(f"the expression '{kind.replace('_', ' ')}'", text_of(node)[:60])
        return handler(node, scope)

    def _ex_pipeline(self, node: Node, scope: Scope) -> Any:
        return self.eval_pipeline_value(node, scope)

    def _ex_command(self, node: Node, scope: Scope) -> Any:
        return _collapse(list(self.run_commands([node], scope)))

    def _ex_assignment_expression(self, node: Node, scope: Scope) -> Any:
        self.assign(node, scope)
        return None

    def _ex_parenthesized_expression(self, node: Node, scope: Scope) -> Any:
        inner = named(node)
        if not inner:
            return None
        if (
            inner[0].type == "pipeline"
            and len(named(inner[0])) == 1
            and named(inner[0])[0].type == "assignment_expression"
        ):
            target = self.assign(named(inner[0])[0], scope)
            return target
        return self.eval_pipeline_value(inner[0], scope)

    def _ex_sub_expression(self, node: Node, scope: Scope) -> Any:
        values: list[Any] = []
        for child in named(node):
            values.extend(self.exec_node(child, scope))
        return _collapse(values)

    def _ex_array_expression(self, node: Node, scope: Scope) -> Any:
        values: list[Any] = []
        for child in named(node):
            values.extend(self.exec_node(child, scope))
        return values

    def _ex_integer_literal(self, node: Node, scope: Scope) -> Any:
        return parse_number(text_of(node))

    def _ex_real_literal(self, node: Node, scope: Scope) -> Any:
        return parse_number(text_of(node))

    def _ex_string_literal(self, node: Node, scope: Scope) -> Any:
        return self.eval(named(node)[0], scope)

    def _ex_verbatim_string_characters(self, node: Node, scope: Scope) -> Any:
        return verbatim_text(text_of(node)[1:-1])

    def _ex_verbatim_here_string_characters(self, node: Node, scope: Scope) -> Any:
        return here_body(text_of(node))

    def _ex_expandable_string_literal(self, node: Node, scope: Scope) -> Any:
        return self._expand(node, scope, 1, 1)

    def _ex_expandable_here_string_literal(self, node: Node, scope: Scope) -> Any:
        raw = text_of(node)
        start = raw.index("\n") + 1
        end = raw.rindex("\n")
        return self._expand(node, scope, start, len(raw) - end, here=True)

    def _expand(self, node: Node, scope: Scope, head: int, tail: int, here: bool = False) -> str:
        raw = node.text or b""
        base = node.start_byte
        out: list[str] = []
        pos = head
        end = len(raw) - tail
        for child in named(node):
            s, e = child.start_byte - base, child.end_byte - base
            if s < pos:
                continue
            out.append(unescape(raw[pos:s].decode("utf-8"), here))
            if child.type == "variable":
                out.append(
                    format_in_string(self._ex_variable(child, scope), to_string(scope.get("OFS", " ")))
                )
            elif child.type == "sub_expression":
                out.append(
                    format_in_string(self._ex_sub_expression(child, scope), to_string(scope.get("OFS", " ")))
                )
            else:
                out.append(raw[s:e].decode("utf-8"))
            pos = e
        out.append(unescape(raw[pos:end].decode("utf-8"), here))
        text = "".join(out)
        return text.replace('""', '"') if not here else text

    def _ex_variable(self, node: Node, scope: Scope) -> Any:
        name = text_of(node)
        if name.startswith("@"):
            raise not_emulated("splatting outside command arguments")
        return read_variable(self.ctx, scope, _variable_name(name))

    def _ex_hash_literal_expression(self, node: Node, scope: Scope) -> Any:
        result: dict[Any, Any] = {}
        for body in named(node):
            for entry in named(body):
                if entry.type != "hash_entry":
                    continue
                key_node, value_node = named(entry)[0], named(entry)[1]
                inner = named(key_node)
                if inner and inner[0].type == "simple_name":
                    key: Any = text_of(inner[0])
                else:
                    key = self.eval(key_node, scope)
                existing = next(
                    (
                        k
                        for k in result
                        if isinstance(k, str) and isinstance(key, str) and k.lower() == key.lower()
                    ),
                    None,
                )
                if existing is not None:
                    raise terminating(
                        f"Duplicate keys '{key}' are not allowed in hash literals.",
                        "DuplicateKeyInHashLiteral",
                        ErrorCategory.ParserError,
                    )
                result[key] = self.eval_pipeline_value(value_node, scope)
        return result

    def _ex_script_block_expression(self, node: Node, scope: Scope) -> Any:
        return ScriptBlockValue(text_of(node)[1:-1], node, scope, self)

    def _ex_type_literal(self, node: Node, scope: Scope) -> Any:
        return resolve_type(text_of(node)[1:-1])

    def _ex_cast_expression(self, node: Node, scope: Scope) -> Any:
        type_node, value_node = named(node)[0], named(node)[1]
        type_name = text_of(type_node)[1:-1]
        value = self.eval(value_node, scope)
        if type_name.lower() in ("pscustomobject", "psobject") and isinstance(value, dict):
            return custom_object(value)
        if type_name.lower() == "ordered" and isinstance(value, dict):
            return value
        return cast_value(type_name, value)

    def _ex_member_access(self, node: Node, scope: Scope) -> Any:
        parts = named(node)
        target_node, member_node = parts[0], parts[-1]
        static = any(not c.is_named and c.type == "::" for c in node.children)
        member = self._member_name(member_node, scope)
        if static:
            return get_static(self, self.eval(target_node, scope), member)
        target = self.eval(target_node, scope)
        found, value = get_property(target, member)
        if not found and self._strict(scope):
            raise terminating(
                f"The property '{member}' cannot be found on this object.",
                "PropertyNotFoundStrict",
                ErrorCategory.InvalidOperation,
            )
        return value

    def _strict(self, scope: Scope) -> bool:
        return False

    def _member_name(self, node: Node, scope: Scope) -> str:
        inner = named(node)
        if inner and inner[0].type in ("string_literal", "variable", "parenthesized_expression"):
            return to_string(self.eval(inner[0], scope))
        return text_of(node)

    def _ex_invokation_expression(self, node: Node, scope: Scope) -> Any:
        parts = named(node)
        target_node = parts[0]
        member_node = next(p for p in parts if p.type == "member_name")
        arg_node = next((p for p in parts if p.type == "argument_list"), None)
        static = any(not c.is_named and c.type == "::" for c in node.children)
        args: list[Any] = []
        if arg_node is not None:
            for lst in named(arg_node):
                for arg in named(lst):
                    args.extend(self._method_argument(arg, scope))
        member = text_of(member_node)
        target = self.eval(target_node, scope)
        if static:
            return call_static(self, target, member, args)
        return call_method(self, target, member, args)

    def _method_argument(self, node: Node, scope: Scope) -> list[Any]:
        """One method argument. The grammar reads ``M([Type], 'x')`` as the cast ``[Type](, 'x')``;
        that is two arguments: the type and the value after the comma."""
        inner = node
        inner = unwrap(inner)
        if (
            inner.type == "expression_with_unary_operator"
            and named(inner)
            and named(inner)[0].type == "cast_expression"
        ):
            inner = named(inner)[0]
        if inner.type == "cast_expression":
            type_node, operand = named(inner)[0], named(inner)[1]
            operand = unwrap(operand)
            if operand.type == "expression_with_unary_operator" and operand.children[0].type == ",":
                return [self.eval(type_node, scope), self.eval(operand.children[-1], scope)]
        return [self.eval(node, scope)]

    def _ex_argument_list(self, node: Node, scope: Scope) -> Any:
        """``New-Object T('a', $b)``: a parenthesized argument list used as a command argument."""
        args: list[Any] = []
        for lst in named(node):
            for arg in named(lst):
                args.extend(self._method_argument(arg, scope))
        return args

    def _ex_element_access(self, node: Node, scope: Scope) -> Any:
        parts = named(node)
        target = self.eval(parts[0], scope)
        index = self.eval(parts[1], scope)
        return index_value(target, index)

    def _ex_post_increment_expression(self, node: Node, scope: Scope) -> Any:
        return self._incr(node, scope, 1, post=True)

    def _ex_post_decrement_expression(self, node: Node, scope: Scope) -> Any:
        return self._incr(node, scope, -1, post=True)

    def _ex_pre_increment_expression(self, node: Node, scope: Scope) -> Any:
        return self._incr(node, scope, 1, post=False)

    def _ex_pre_decrement_expression(self, node: Node, scope: Scope) -> Any:
        return self._incr(node, scope, -1, post=False)

    def _incr(self, node: Node, scope: Scope, delta: int, post: bool) -> Any:
        var = named(node)[0]
        old = to_number(self.eval(var, scope))
        self._store(var, old + delta, scope)
        return None  # as a statement, ++/-- write nothing

    def _ex_generic_token(self, node: Node, scope: Scope) -> Any:
        return generic_token(text_of(node))

    def _ex_simple_name(self, node: Node, scope: Scope) -> Any:
        return text_of(node)

    # -- operators ----------------------------------------------------------------------------------
    def _eval_operator(self, node: Node, scope: Scope) -> Any:
        kind = node.type
        kids = node.children
        if kind == "expression_with_unary_operator":
            return self._unary(node, scope)
        if kind == "array_literal_expression":
            return [self.eval(c, scope) for c in kids if c.is_named]
        if kind == "logical_expression":
            return self._logical(kids, scope)
        left = self.eval(kids[0], scope)
        op = text_of(kids[1]).strip().lower()
        right = self.eval(kids[2], scope)
        if (
            kind == "comparison_expression"
            and op in ("-match", "-imatch", "-cmatch")
            and not is_collection(left)
        ):
            return self._match(left, right, op == "-cmatch", scope)
        return binary(kind, op, left, right)

    def _logical(self, kids: list[Node], scope: Scope) -> bool:
        """-and / -or short-circuit; -xor evaluates both sides (about_Logical_Operators)."""
        op = next(c.type for c in kids if not c.is_named).lower()
        left = to_bool(self.eval(kids[0], scope))
        if op == "-and":
            return left and to_bool(self.eval(kids[2], scope))
        if op == "-or":
            return left or to_bool(self.eval(kids[2], scope))
        if op == "-xor":
            return left != to_bool(self.eval(kids[2], scope))
        raise not_emulated(f"the operator '{op}'")

    def _match(self, left: Any, right: Any, case: bool, scope: Scope) -> bool:
        """-match on a scalar sets $Matches (about_Regular_Expressions)."""
        m = regex_match(left, right, case)
        if m is None:
            return False
        matches: dict[Any, Any] = {0: m.group(0)}
        for i, group in enumerate(m.groups(), start=1):
            if group is not None:
                matches[i] = group
        for name, group in m.groupdict().items():
            if group is not None:
                matches[name] = group
        scope.set("Matches", matches)
        return True

    def _unary(self, node: Node, scope: Scope) -> Any:
        first = node.children[0]
        if first.is_named:
            return self.eval(first, scope)
        return unary(first.type.lower(), self.eval(node.children[-1], scope))

    # -- assignment ---------------------------------------------------------------------------------
    def assign(self, node: Node, scope: Scope) -> Any:
        parts = named(node)
        target = parts[0]
        op = text_of(parts[1]).strip()
        value_node = parts[2]
        value = self.eval_pipeline_value(value_node, scope)
        if op != "=":
            current = self.eval(target, scope)
            value = {
                "+=": add,
                "-=": lambda a, b: arith("-", a, b),
                "*=": lambda a, b: arith("*", a, b),
                "/=": lambda a, b: arith("/", a, b),
                "%=": lambda a, b: arith("%", a, b),
            }[op](current, value)
        self._store(target, value, scope)
        return value

    def _store(self, target: Node, value: Any, scope: Scope) -> None:
        target = unwrap(target)
        if target.type == "expression_with_unary_operator":
            target = named(target)[0]
        store: Callable[[Node, Any, Scope], None] | None = getattr(self, f"_store_{target.type}", None)
        if store is None:
            raise not_emulated(f"assignment to '{target.type.replace('_', ' ')}'")
        store(target, value, scope)

    def _store_cast_expression(self, target: Node, value: Any, scope: Scope) -> None:
        type_name = text_of(named(target)[0])[1:-1]
        self._store(named(target)[1], cast_value(type_name, value), scope)

    def _store_variable(self, target: Node, value: Any, scope: Scope) -> None:
        write_variable(self.ctx, scope, _variable_name(text_of(target)), value)

    def _store_member_access(self, target: Node, value: Any, scope: Scope) -> None:
        obj = self.eval(named(target)[0], scope)
        member = self._member_name(named(target)[-1], scope)
        if any(not c.is_named and c.type == "::" for c in target.children):
            set_static(self, obj, member, value)
        else:
            set_property(obj, member, value)

    def _store_element_access(self, target: Node, value: Any, scope: Scope) -> None:
        obj = self.eval(named(target)[0], scope)
        index = self.eval(named(target)[1], scope)
        if isinstance(obj, dict) and isinstance(index, str):
            set_property(obj, index, value)
        elif isinstance(obj, dict):
            obj[index] = value
        elif isinstance(obj, list):
            obj[int(to_number(index))] = value
        elif hasattr(obj, "set_item") and getattr(type(obj), "_winhost_dotnet", False):
            obj.set_item(index, value)
        else:
            raise not_emulated("index assignment on this object")

    def _store_array_literal_expression(self, target: Node, value: Any, scope: Scope) -> None:
        """``$a, $b = 1, 2, 3``: the last variable takes the rest (about_Assignment_Operators)."""
        targets = [c for c in target.children if c.is_named]
        values = as_list(value)
        for i, t in enumerate(targets):
            if i == len(targets) - 1:
                tail = values[i:]
                self._store(t, tail[0] if len(tail) == 1 else (tail or None), scope)
            else:
                self._store(t, values[i] if i < len(values) else None, scope)

    # ===== helpers used by cmdlets (Where-Object, ForEach-Object, ...) ==============================
    def call_scriptblock(
        self,
        block: ScriptBlockValue,
        args: list[Any] | None = None,
        dollar_under: Any = None,
        set_under: bool = False,
        input_values: list[Any] | None = None,
    ) -> list[Any]:
        params: list[tuple[str | None, Any]] = [(None, a) for a in (args or [])]
        return list(
            self.invoke_block(
                block,
                params,
                iter(input_values) if input_values is not None else None,
                dollar_under=dollar_under,
                set_under=set_under,
            )
        )


# ===== free helpers ===============================================================================


_NO_USING = object()
_NOT_NONE = object()


def _is_void(node: Node, value: Any = None) -> bool:
    """Expressions PowerShell does not output: ++/--, assignments, void method calls."""
    node = unwrap(node)
    if node.type == "invokation_expression" and value is None:
        return True
    return node.type in (
        "post_increment_expression",
        "post_decrement_expression",
        "pre_increment_expression",
        "pre_decrement_expression",
        "assignment_expression",
    )


def _collapse(values: list[Any]) -> Any:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values


def _single(values: list[Any]) -> Any:
    return _collapse(values)


def _variable_name(text: str) -> str:
    """``$name`` / ``${name}`` -> ``name`` (scope or drive prefix kept: ``env:PATH``)."""
    name = text[1:]
    return name[1:-1] if name.startswith("{") and name.endswith("}") else name


def _catch_types(clause: Node) -> list[str]:
    """The exception type names of ``catch [A], [B]`` (none: catch everything)."""
    return [text_of(t)[1:-1] for lst in named(clause) if lst.type == "catch_type_list" for t in named(lst)]


def _inside_catch(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type == "catch_clause":
            return True
        parent = parent.parent
    return False


def _exception_matches(record: ErrorRecord, type_name: str) -> bool:
    """Does ``catch [type_name]`` take this error? PowerShell matches the exception's
    InnerException as well as the exception itself, so ``catch [System.IO.InvalidDataException]``
    takes the MethodInvocationException wrapping it (PowerShell prefers a clause that matches the
    inner exception; winhost takes the first clause that matches either)."""
    names = [n.lower() for n in record.Exception.PSObject.type_names]
    inner = getattr(record.Exception, "InnerException", None)
    if isinstance(inner, PSObject):
        names += [n.lower() for n in inner.PSObject.type_names]
    want = type_name.lower()
    return any(
        n == want
        or n.endswith("." + want)
        or (want.endswith("." + n.rsplit(".", 1)[-1]) and n.rsplit(".", 1)[-1] == want.rsplit(".", 1)[-1])
        for n in names
    )
