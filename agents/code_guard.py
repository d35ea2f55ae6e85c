"""What the manager's code may say, checked before it runs, and the guards it runs through.

The manager's code is untrusted (an LLM that read a prompt-injected memory writes it), and
smolagents' local executor is not a sandbox: it blocks imports and dunder attributes, but a
plain attribute chain, `setattr`, `type`, a generator's frame or one huge built-in operation go
through. Before a code step runs, `guard_code`:

1. refuses, statically, what the manager never needs and an attack relies on: any name or
   attribute starting with `_` (`random._os`, the executor's own `_operations_count`) or naming
   a frame, code or generator internal (`gi_frame`, `f_globals`, `tb_frame`, `co_code`, ...);
   setting or deleting an attribute; imports; classes; `global`/`nonlocal`; `yield`/`await`;
   a computed width in an f-string format spec;
2. rewrites the operations that can allocate without bound in ONE built-in call (where no step
   limit can interrupt them) into calls to the guards below: `+ * ** << %` (also augmented),
   the str methods that pad, repeat, join or format, and every value rendered by `print`,
   `str()` or an f-string. Each guard checks the size the result would have before computing it,
   and a format string (`str.format`, `format_map`, built at run time or not) is checked where it
   is used: a field may not walk attributes or items (`{0.__globals__}`, `{0[key]}`).

The rewritten code is still run by smolagents' own executor (see agents/safe_executor.py).
"""

from __future__ import annotations

import ast
import operator
import re
import string
from typing import Any

from smolagents.local_python_executor import InterpreterError

# Attribute and name prefixes the manager's code may not use: private names, and the public
# attributes of generators, coroutines, frames, tracebacks and code objects (a generator's
# `gi_frame.f_globals` is the executor module's globals, with no dunder on the way).
FORBIDDEN_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "tb_", "co_")
MAX_ITEMS = 1_000_000  # characters or elements one guarded operation may produce
MAX_INT_BITS = 1_000_000  # bits of an integer one guarded operation may produce
MAX_RENDER = 2_000_000  # characters a value may render to (print, str(), f-string, output)
AMPLIFYING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "format", "format_map"})
GUARDED_OPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
OPERATORS = {"+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod}
GUARD_NAMES = ("guarded_binop", "guarded_method", "guarded_render", "guarded_str")


class CodeRefused(InterpreterError):
    """The manager's code does something its sandbox does not allow; the message says what."""


def forbidden(name: str) -> bool:
    return name.startswith(FORBIDDEN_PREFIXES)


class _Gate(ast.NodeVisitor):
    REFUSED = {
        ast.Import: "imports are not available: call your team members and final_answer",
        ast.ImportFrom: "imports are not available: call your team members and final_answer",
        ast.ClassDef: "class definitions are not allowed",
        ast.Global: "global statements are not allowed",
        ast.Nonlocal: "nonlocal statements are not allowed",
        ast.Yield: "generators are not allowed",
        ast.YieldFrom: "generators are not allowed",
        ast.Await: "async code is not allowed",
        ast.AsyncFunctionDef: "async code is not allowed",
    }

    def __init__(self) -> None:
        self._called: set[int] = set()  # the `x.method` nodes that are called right there

    def generic_visit(self, node: ast.AST) -> None:
        refused = self.REFUSED.get(type(node))
        if refused:
            raise CodeRefused(f"{refused} (line {getattr(node, 'lineno', '?')})")
        super().generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            self._called.add(id(node.func))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if forbidden(node.attr):
            raise CodeRefused(f"attribute {node.attr!r} is not accessible (line {node.lineno})")
        if node.attr in AMPLIFYING_METHODS and id(node) not in self._called:
            # Only a direct call is rewritten through its size guard: `m = s.ljust` or
            # `str.center` kept as a value would later allocate unchecked.
            raise CodeRefused(f"call .{node.attr}(...) directly, not as a value (line {node.lineno})")
        if not isinstance(node.ctx, ast.Load):
            raise CodeRefused(f"attributes cannot be set or deleted (line {node.lineno})")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if forbidden(node.id) or node.id in GUARD_NAMES and not isinstance(node.ctx, ast.Load):
            raise CodeRefused(f"name {node.id!r} is not accessible (line {node.lineno})")
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if forbidden(node.arg):
            raise CodeRefused(f"argument name {node.arg!r} is not allowed (line {node.lineno})")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if forbidden(node.name) or node.name in GUARD_NAMES:
            raise CodeRefused(f"function name {node.name!r} is not allowed (line {node.lineno})")
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        specs = [getattr(v.format_spec, "values", []) for v in node.values if isinstance(v, ast.FormattedValue)]
        if not all(isinstance(part, ast.Constant) for spec in specs for part in spec):
            raise CodeRefused(f"an f-string format spec must be written out, not computed (line {node.lineno})")
        # Added up over the f-string: it is rendered in one operation.
        if sum(int(d) for spec in specs for part in spec for d in _DIGITS.findall(str(part.value))) > MAX_ITEMS:
            raise _refuse(f"an f-string width (line {node.lineno})")
        self.generic_visit(node)


def _call(name: str, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=keywords or [])


def _as_load(target: ast.expr) -> ast.expr:
    """The target of `x op= y` read back, for `x = guarded_binop(op, x, y)`."""
    return ast.parse(ast.unparse(target), mode="eval").body


class _Rewrite(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        op = GUARDED_OPS.get(type(node.op))
        return _call("guarded_binop", ast.Constant(op), node.left, node.right) if op else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        op = GUARDED_OPS.get(type(node.op))
        if op is None:
            return node
        value = _call("guarded_binop", ast.Constant(op), _as_load(node.target), node.value)
        return ast.Assign(targets=[node.target], value=value, lineno=node.lineno)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in AMPLIFYING_METHODS:
            return _call("guarded_method", func.value, ast.Constant(func.attr), *node.args, keywords=node.keywords)
        if isinstance(func, ast.Name) and func.id == "print":
            node.args = [
                ast.Starred(value=_call("guarded_render", a.value), ctx=ast.Load()) if isinstance(a, ast.Starred) else _call("guarded_render", a)
                for a in node.args
            ]
            node.keywords = [ast.keyword(arg=k.arg, value=_call("guarded_render", k.value)) for k in node.keywords]
        elif isinstance(func, ast.Name) and func.id == "str":
            node.func = ast.Name(id="guarded_str", ctx=ast.Load())
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        node.value = _call("guarded_render", node.value)
        return node


def guard_code(code: str) -> str:
    """The code as it will run: checked (CodeRefused says why not) and rewritten through the guards."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code  # smolagents reports the syntax error itself, with the line
    _Gate().visit(tree)
    tree = ast.fix_missing_locations(_Rewrite().visit(tree))
    return ast.unparse(tree)


# --- the guards the rewritten code calls --------------------------------------------------------


def rendered_size(value: Any, budget: int = MAX_RENDER) -> int:
    """About how many characters `value` renders to; stops counting once over `budget` (so a
    self-containing list or a list holding one huge string many times costs little to measure)."""
    total, seen, stack = 0, 0, [value]
    while stack and total <= budget and seen <= budget:
        item = stack.pop()
        seen += 1
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 40
    return total


def _refuse(what: str) -> CodeRefused:
    return CodeRefused(f"{what}: over the sandbox's limit ({MAX_ITEMS:,} items, {MAX_INT_BITS:,}-bit integers)")


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, bytes, bytearray, list, tuple)) else None


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_FIELD = re.compile(r"\{[^{}]*\{")  # a replacement field with a nested field: a computed width
_DIGITS = re.compile(r"\d+")


def _check_format_string(text: str, percent: bool) -> None:
    # Widths and precisions are added up over the whole string: one call formats every field,
    # so thirty fields of 999,999 are thirty million characters from one operation.
    if percent:
        total = 0
        for match in _PERCENT_SPEC.finditer(text):
            for group in match.groups():
                if group == "*":
                    raise _refuse("a %-format width or precision")
                total += int(group) if group else 0
        if total > MAX_ITEMS:
            raise _refuse("a %-format width or precision")
    else:
        if _BRACE_FIELD.search(text.replace("{{", "").replace("}}", "")):
            raise CodeRefused("a format string with a computed width is not allowed")
        try:  # only the fields' specs count, not numbers in the text around them
            fields = [(field, spec) for _, field, spec, _ in string.Formatter().parse(text) if field is not None]
        except ValueError:
            return  # not a valid format string: the call itself says so
        for field, _ in fields:
            # `{0.attr}` and `{0[key]}` are walked inside C, where neither the gate nor smolagents
            # looks: '{0.__globals__[os].environ}'.format(f) read the process's secrets.
            if "." in field or "[" in field:
                raise CodeRefused(
                    f"format field {field[:40]!r}: a field may name a position or a keyword ('{{0}}', '{{name}}'), "
                    "not an attribute or an item; compute the value first"
                )
        specs = [spec for _, spec in fields if spec]
        if sum(int(d) for spec in specs for d in _DIGITS.findall(spec)) > MAX_ITEMS:
            raise _refuse("a format width")


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    if op in ("+", "*", "**", "<<") and isinstance(left, int) and isinstance(right, int):
        bits = max(left.bit_length(), right.bit_length())
        if op == "*":
            bits = left.bit_length() + right.bit_length()
        elif op == "**" and abs(left) > 1 and right > 0:
            bits = left.bit_length() * right
        elif op == "<<":
            bits = left.bit_length() + max(right, 0)
        if bits > MAX_INT_BITS:
            raise _refuse(f"the integer {op} operation")
    elif op == "*":
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        size = _length(seq)
        if size is not None and isinstance(times, int) and times > 1:
            if size * times > MAX_ITEMS or rendered_size(seq) * times > MAX_RENDER:
                raise _refuse("repeating a sequence")
    elif op == "+":
        a, b = _length(left), _length(right)
        if a is not None and b is not None and a + b > MAX_ITEMS:
            raise _refuse("concatenating")
    elif op == "%" and isinstance(left, (str, bytes)):
        _check_format_string(left if isinstance(left, str) else left.decode("latin-1"), percent=True)
        if rendered_size(right) > MAX_RENDER:
            raise _refuse("formatting")
    return OPERATORS[op](left, right)


def guarded_method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    if forbidden(name):
        raise CodeRefused(f"attribute {name!r} is not accessible")
    method = getattr(obj, name)
    text, rest = obj, args
    if (obj is str or obj is bytes) and args:  # str.join(sep, items): the instance comes first
        text, rest = args[0], args[1:]
    if isinstance(text, (str, bytes)):
        if name == "join" and rest:
            items = list(rest[0])  # an iterator is read once, here, so its size can be checked
            if sum(_length(i) or 0 for i in items) + len(text) * len(items) > MAX_ITEMS:
                raise _refuse("joining")
            args = (*args[: len(args) - len(rest)], items, *rest[1:])
        _check_text_method(text, name, rest, kwargs)
    return method(*args, **kwargs)


def _check_text_method(text: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    values = [*args, *kwargs.values()]
    if name in ("ljust", "rjust", "center", "zfill"):
        if values and isinstance(values[0], int) and values[0] > MAX_ITEMS:
            raise _refuse(f"{name} width")
    elif name == "expandtabs":
        size = values[0] if values and isinstance(values[0], int) else 8
        tabs = text.count("\t" if isinstance(text, str) else b"\t")
        if len(text) + tabs * size > MAX_ITEMS:
            raise _refuse("expandtabs")
    elif name == "replace" and len(values) >= 2:
        old, new = values[0], values[1]
        if isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
            count = len(text) + 1 if not old else text.count(old)
            if len(values) > 2 and isinstance(values[2], int) and values[2] >= 0:
                count = min(count, values[2])
            if len(text) + count * (len(new) - len(old)) > MAX_ITEMS:
                raise _refuse("replace")
    elif name in ("format", "format_map") and isinstance(text, str):
        _check_format_string(text, percent=False)
        if rendered_size(values) > MAX_RENDER:
            raise _refuse("formatting")


def guarded_render(value: Any) -> Any:
    if rendered_size(value) > MAX_RENDER:
        raise CodeRefused(f"a value rendering to over {MAX_RENDER:,} characters cannot be printed or formatted")
    return value


def guarded_str(*args: Any, **kwargs: Any) -> str:
    if len(args) == 1 and not kwargs:
        guarded_render(args[0])
    return str(*args, **kwargs)


GUARDS = {
    "guarded_binop": guarded_binop,
    "guarded_method": guarded_method,
    "guarded_render": guarded_render,
    "guarded_str": guarded_str,
}
