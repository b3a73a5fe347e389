"""The Jinja2 sandbox that user-written prompt templates run in: no code execution, bounded work, bounded size.

On top of `ImmutableSandboxedEnvironment` (no underscore attributes, no Python internals, no mutation of lists or
dicts), every render gets a budget of steps: each loop iteration, call, filter and intercepted operator spends from
it (more for big values), so nested or recursive loops stop early instead of hanging the page. The operations that
can blow a small template up into gigabytes (`'x' * 10**9`, `'%999999999d'`, `s.replace('', s)`, big `join`
separators, `~` in a loop...) are checked before they run. Anything refused raises `TemplateRefused`, which
`prompt_render` turns into the user's message "This template tries to use something that is not allowed: ...".
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

MAX_TEMPLATE_CHARS = 50_000  # the source of one part (system or user)
MAX_RENDER_CHARS = 100_000  # what one part may render to; also the largest string built on the way
MAX_STEPS = 100_000  # loop iterations + calls + filters per render (bigger values cost more)
MAX_RANGE = 10_000  # numbers in one range()
MAX_NUMBER_ARGUMENT = 100_000  # an integer given to a function or filter
MAX_FORMAT_WIDTH = 1_000  # a width or precision in '%10s' or '{:10}'
MAX_INT_BITS = 4_096  # integers computed with * and **
COST_CHARS = 100  # every this many characters (or items) taken or made costs one more step: at most ~10M a render

LOOP_GUARD = "studio_loop_guard"  # internal filters the AST rewrite inserts (harmless if a user calls them)
CONCAT_GUARD = "studio_concat"
INTERNAL_FILTERS = frozenset({LOOP_GUARD, CONCAT_GUARD})


class TemplateRefused(SecurityError):
    """The template tried something the sandbox does not allow; the message says what, in plain words."""


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int = 1) -> None:
        self.left -= steps
        if self.left < 0:
            raise TemplateRefused(
                f"more than {MAX_STEPS:,} loop steps, calls and filters in one prompt "
                "(loops over the examples or earlier outputs are fine; huge or nested loops are not)"
            )


_BUDGET: ContextVar[_Budget | None] = ContextVar("studio_template_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """One budget for everything rendered inside (the system and the user part of one prompt)."""
    token = _BUDGET.set(_Budget(MAX_STEPS))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _spend(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:  # rendered outside render_budget(): give it its own budget rather than none
        budget = _Budget(MAX_STEPS)
        _BUDGET.set(budget)
    budget.spend(steps)


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _cost(*values: Any) -> int:
    return 1 + sum(_size(v) for v in values) // COST_CHARS


def _check_length(length: int, what: str) -> None:
    if length > MAX_RENDER_CHARS:
        raise TemplateRefused(f"{what} of {length:,} characters (at most {MAX_RENDER_CHARS:,})")


def _check_result(result: Any, what: str) -> Any:
    if isinstance(result, str | bytes | list | tuple):
        _check_length(len(result), what)
        _spend(len(result) // COST_CHARS)
    return result


def _sized(value: Any) -> Any:
    """A generator (from map, select...) as a list, so the size of what is made from it can be known first."""
    if isinstance(value, Iterator):
        items = []
        for item in value:
            items.append(item)
            _spend(1)
        return items
    return value


def _check_number(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARGUMENT:
        raise TemplateRefused(f"the number {value:,} given to {where} (at most {MAX_NUMBER_ARGUMENT:,})")


def _check_arguments(values: Iterable[Any], where: str) -> None:
    for value in values:
        _check_number(value, where)
        if isinstance(value, str | bytes):
            _check_length(len(value), f"a text given to {where}")


# --- formatting: widths and precisions -----------------------------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise TemplateRefused("a '%*' width taken from the arguments in '%' formatting")
            if number and int(number) > MAX_FORMAT_WIDTH:
                raise TemplateRefused(f"a width of {int(number):,} in '%' formatting (at most {MAX_FORMAT_WIDTH:,})")


def _check_format_spec(fmt: str) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # the call itself reports the broken format string
    for _literal, _field, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateRefused("a width taken from the arguments in '{...}'.format()")
        for number in re.findall(r"\d+", spec):
            if int(number) > MAX_FORMAT_WIDTH:
                raise TemplateRefused(f"a width of {int(number):,} in .format() (at most {MAX_FORMAT_WIDTH:,})")


# --- size estimates for the operations that multiply text --------------------------------------------------------


def _replaced_size(text: str, old: Any, new: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    hits = text.count(old) if old else len(text) + 1
    return len(text) + hits * max(0, len(new) - len(old))


def _joined_size(separator: Any, items: Any) -> int:
    if not isinstance(separator, str) or not isinstance(items, list | tuple | str | range | dict | set):
        return 0
    return len(separator) * max(0, len(items) - 1)


def _estimate_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    value = args[0] if args else None
    if name == "replace" and isinstance(value, str) and len(args) >= 3:
        return _replaced_size(value, args[1], args[2])
    if name == "join" and value is not None:
        return _joined_size(args[1] if len(args) > 1 else kwargs.get("d", ""), value)
    if name == "indent" and isinstance(value, str):
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        prefix = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 4
        return len(value) + prefix * (value.count("\n") + 1)
    if name == "wordwrap" and isinstance(value, str):
        width = args[1] if len(args) > 1 else kwargs.get("width", 79)
        wrap = kwargs.get("wrapstring") or (args[3] if len(args) > 3 else None) or "\n"
        lines = len(value) // max(int(width) if isinstance(width, int) else 79, 1) + 1
        return len(value) + len(str(wrap)) * lines
    if name == "format" and isinstance(value, str):
        _check_printf(value)
    if name == "tojson":
        indent = args[1] if len(args) > 1 else kwargs.get("indent")
        if isinstance(indent, int) and indent > 16:
            raise TemplateRefused(f"tojson with an indent of {indent:,} (at most 16)")
    return 0


def _estimate_method(obj: Any, args: tuple[Any, ...]) -> int:
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    wrapped = getattr(obj, "__wrapped__", None)  # str.format / format_map, wrapped by the sandbox
    if wrapped is not None and isinstance(getattr(wrapped, "__self__", None), str):
        _check_format_spec(wrapped.__self__)
        return 0
    if not isinstance(owner, str):
        return 0
    if name == "replace" and len(args) >= 2:
        return _replaced_size(owner, args[0], args[1])
    if name == "join" and args:
        return _joined_size(owner, args[0])
    if name == "expandtabs":
        tab = args[0] if args and isinstance(args[0], int) else 8
        return len(owner) + owner.count("\t") * tab
    return 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    both_ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple | bytes) and isinstance(count, int):
                _check_length(len(seq) * max(count, 0), "a repeated text or list")
        if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateRefused("multiplying numbers that are too large")
    elif operator == "**" and both_ints and abs(left) > 1 and right > 0 and right * left.bit_length() > MAX_INT_BITS:
        raise TemplateRefused(f"the power {left}**{right}, a number that is too large")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)
    elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        _check_length(len(left) + len(right), "a joined text or list")


# --- the environment ---------------------------------------------------------------------------------------------


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateRefused(f"a range of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
    return numbers


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend(1)
        yield item


def _concat(parts: list[Any]) -> str:
    texts = [str(part) for part in parts]
    total = sum(len(text) for text in texts)
    _check_length(total, "a text joined with '~'")
    _spend(_cost() + total // COST_CHARS)
    return "".join(texts)


def _oneline(value: Any) -> str:
    """Collapse all whitespace (newlines included) to single spaces: keeps a list item on one line."""
    return " ".join(str(value).split())


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes_context = hasattr(func, "jinja_pass_arg")

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        first = 1 if passes_context else 0
        if name == "join" and len(args) > first:
            args = (*args[:first], _sized(args[first]), *args[first + 1 :])
        values = args[first:]
        _check_arguments([*values[1:], *kwargs.values()], f"the filter '{name}'")
        _spend(_cost(*values[:1]))
        estimate = _estimate_filter(name, values, kwargs)
        _check_length(estimate, f"the result of the filter '{name}'")
        return _check_result(func(*args, **kwargs), f"the result of the filter '{name}'")

    return guarded


class _GuardLoops(NodeTransformer):
    """Rewrites the parsed template so every `for` loop spends from the budget and every `~` is size-checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, LOOP_GUARD, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes, lineno=node.lineno), CONCAT_GUARD, [], [], None, None, lineno=node.lineno
        )


class GuardedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            loader=None,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.globals.clear()
        self.globals.update(range=_range, namespace=Namespace)
        filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        filters["oneline"] = _guard_filter("oneline", _oneline)
        filters[LOOP_GUARD] = _loop_guard
        filters[CONCAT_GUARD] = _concat
        self.filters = filters

    def user_filters(self) -> list[str]:
        return sorted(name for name in self.filters if name not in INTERNAL_FILTERS)

    def compile_guarded(self, source: str) -> Any:
        """Parse, rewrite loops and `~`, compile. Raises TemplateSyntaxError for broken templates."""
        tree = _GuardLoops().visit(self.parse(source))
        tree.set_environment(self)
        return self.from_string(tree)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise TemplateRefused(f"the attribute '{attribute}' of a {type(obj).__name__} value")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        _spend(_cost(left, right))
        return _check_result(super().call_binop(context, operator, left, right), f"the result of '{operator}'")

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        where = getattr(obj, "__name__", None) or type(obj).__name__
        if obj is not _range:
            _check_arguments([*args, *kwargs.values()], f"'{where}'")
        if isinstance(obj, LoopContext) and args:  # a recursive loop's inner iterations spend from the budget too
            args = (_loop_guard(args[0]), *args[1:])
        elif where == "join" and isinstance(getattr(obj, "__self__", None), str) and args:
            args = (_sized(args[0]), *args[1:])
        _spend(_cost(*args, *kwargs.values()))
        _check_length(_estimate_method(obj, args), f"the result of '{where}'")
        return _check_result(super().call(context, obj, *args, **kwargs), f"the result of '{where}'")
