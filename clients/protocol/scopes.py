"""Taskcluster scope semantics: satisfaction, scope expressions, templates and roles.

A pure module (stdlib only). A *held* scope ending in ``*`` satisfies every *required* scope that
starts with the part before the ``*``; a required scope is never a pattern. A scope expression
is a string, ``{"AllOf": [...]}`` or ``{"AnyOf": [...]}``. API declarations are *templates*:
strings hold ``<param>`` placeholders and lists may hold ``{"for", "in", "each"}`` and
``{"if", "then"}`` elements; `render` turns a template into a plain expression.

Roles: a held ``assume:<roleId>`` grants the role's scopes, repeatedly, to a fixed point. A role
id ending in ``*`` is parameterized: ``<..>`` in its scopes becomes the part of the assumed name
matched by the ``*``. When that part itself ends in ``*`` (the held scope was a pattern, say
``assume:repo:gh*`` for role ``repo:*``, giving ``gh*``) everything from ``<..>`` to the end of
the role scope is replaced by it, since the ``*`` already covers whatever followed. A held
pattern shorter than a role's id (``assume:re*`` for role ``repo:*``) grants the role with
``<..>`` (and what follows) replaced by ``*``. A role that does not end in ``*`` has its scopes
granted verbatim. This follows the Taskcluster auth service.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeAlias

__all__ = [
    "MAX_EXPANSION_DEPTH",
    "RoleExpansionError",
    "RoleIndex",
    "ScopeExpr",
    "ScopeSet",
    "ScopeTemplateError",
    "describe",
    "evaluate",
    "expand",
    "is_valid_scope",
    "normalize",
    "render",
    "satisfies",
    "satisfies_all",
    "unsatisfied",
]

ScopeExpr: TypeAlias = str | dict[str, Any]
"""A scope expression: a scope, ``{"AllOf": [expr, ...]}`` or ``{"AnyOf": [expr, ...]}``."""

MAX_EXPANSION_DEPTH = 100
"""The longest chain of roles assuming roles that `expand` follows before giving up."""

_SCOPE = re.compile(r"[\x20-\x7e]*")
_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")
_OPERATORS = ("AllOf", "AnyOf")
_ASSUME = "assume:"
_PARAM = "<..>"


class ScopeTemplateError(ValueError):
    """A scope expression or template is malformed, or a template parameter is missing.

    Always a programming error (a bad API declaration or a handler passing the wrong params).
    """


class RoleExpansionError(ValueError):
    """Role expansion did not reach a fixed point (parameterized roles growing without end)."""


def is_valid_scope(scope: str) -> bool:
    """Whether `scope` is a string of printable ASCII characters (``^[\\x20-\\x7e]*$``)."""
    return isinstance(scope, str) and _SCOPE.fullmatch(scope) is not None


# -- satisfaction ---------------------------------------------------------------------------


class ScopeSet:
    """A held scope set indexed so that `satisfies` costs O(len(required)), not O(held).

    ``scopes`` is the normalized set: sorted, without duplicates or scopes another held
    ``*`` scope already satisfies.
    """

    __slots__ = ("_exact", "_lengths", "_prefixes", "_sorted")

    def __init__(self, scopes: Iterable[str]) -> None:
        items = set(_not_a_string(scopes))
        self._prefixes = frozenset(s[:-1] for s in items if s.endswith("*"))
        self._lengths = tuple(sorted({len(p) for p in self._prefixes}))
        self._sorted: tuple[str, ...] | None = tuple(
            sorted(s for s in items if not self._covered(s))
        )
        self._exact = frozenset(self._sorted)

    @property
    def scopes(self) -> tuple[str, ...]:
        """The normalized set, sorted (made when first asked for, after a `union`)."""
        if self._sorted is None:
            self._sorted = tuple(sorted(self._exact))
        return self._sorted

    def _star_match(self, scope: str, shorter_than: int) -> bool:
        """Whether a held ``prefix*`` with ``len(prefix) < shorter_than`` matches `scope`."""
        for n in self._lengths:
            if n >= shorter_than:
                return False
            if scope[:n] in self._prefixes:
                return True
        return False

    def _covered(self, scope: str) -> bool:
        """Whether another held ``*`` scope satisfies `scope` (so it is redundant).

        For ``p*`` only shorter prefixes count: ``p**`` and ``p*`` satisfy each other.
        """
        return self._star_match(scope, len(scope) - 1 if scope.endswith("*") else len(scope) + 1)

    @property
    def holds_everything(self) -> bool:
        """Whether ``*`` is held: every scope, so every expression, is satisfied."""
        return "" in self._prefixes

    def union(self, extra: Iterable[str]) -> ScopeSet:
        """This set with `extra` added, normalized. Costs O(len(extra)) when no scope in
        `extra` ends in ``*`` (such a scope cannot make a held one redundant)."""
        added = set(_not_a_string(extra)).difference(self._exact)
        if any(s.endswith("*") for s in added):
            return ScopeSet([*self.scopes, *added])
        joined = ScopeSet.__new__(ScopeSet)
        joined._prefixes, joined._lengths, joined._sorted = self._prefixes, self._lengths, None
        joined._exact = self._exact.union([s for s in added if not self._covered(s)])
        return joined

    def satisfies(self, required: str) -> bool:
        """Whether this set satisfies the single required scope `required`."""
        return required in self._exact or self._star_match(required, len(required) + 1)

    def __iter__(self) -> Iterator[str]:
        return iter(self.scopes)

    def __len__(self) -> int:
        return len(self.scopes)

    def __repr__(self) -> str:
        return f"ScopeSet({list(self.scopes)!r})"


def _not_a_string(scopes: Iterable[str]) -> Iterable[str]:
    if isinstance(scopes, str):
        raise TypeError("expected an iterable of scopes, got a single string")
    return scopes


def _scope_set(held: ScopeSet | Iterable[str]) -> ScopeSet:
    return held if isinstance(held, ScopeSet) else ScopeSet(held)


def satisfies(held: ScopeSet | Iterable[str], required: str) -> bool:
    """Whether the held scopes satisfy the single required scope."""
    return _scope_set(held).satisfies(required)


def satisfies_all(held: ScopeSet | Iterable[str], required: Iterable[str]) -> bool:
    """Whether the held scopes satisfy every one of the required scopes."""
    scope_set = _scope_set(held)
    return all(scope_set.satisfies(r) for r in _not_a_string(required))


def normalize(scopes: Iterable[str]) -> list[str]:
    """Sorted scopes without duplicates or scopes satisfied by another held ``*`` scope."""
    return list(_scope_set(scopes).scopes)


# -- expressions ----------------------------------------------------------------------------


def _operator(expr: object) -> tuple[str, Sequence[Any]]:
    """The operator and operands of an AllOf/AnyOf expression; raise if it is not one."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((op, items),) = expr.items()
        if op in _OPERATORS and isinstance(items, list | tuple):
            return op, items
    raise ScopeTemplateError(f"not a scope expression: {expr!r}")


def evaluate(expr: ScopeExpr, held: ScopeSet | Iterable[str]) -> bool:
    """Whether the held scopes satisfy the (rendered) expression."""
    return _evaluate(expr, _scope_set(held))


def _evaluate(expr: ScopeExpr, held: ScopeSet) -> bool:
    if isinstance(expr, str):
        return held.satisfies(expr)
    op, items = _operator(expr)
    test = all if op == "AllOf" else any
    return test(_evaluate(item, held) for item in items)


def unsatisfied(expr: ScopeExpr, held: ScopeSet | Iterable[str]) -> ScopeExpr | None:
    """The part of the (rendered) expression the held scopes leave unsatisfied, or None.

    Satisfied scopes are dropped from AllOf lists, nested lists of the same kind are flattened
    and single-element lists collapse to their element. An empty AnyOf is kept as is.
    """
    return _unsatisfied(expr, _scope_set(held))


def _unsatisfied(expr: ScopeExpr, held: ScopeSet) -> ScopeExpr | None:
    if isinstance(expr, str):
        return None if held.satisfies(expr) else expr
    op, items = _operator(expr)
    missing = [_unsatisfied(item, held) for item in items]
    if op == "AnyOf" and any(m is None for m in missing):
        return None
    left: list[ScopeExpr] = []
    for m in missing:
        if isinstance(m, dict) and op in m:
            left.extend(m[op])
        elif m is not None:
            left.append(m)
    if op == "AllOf" and not left:
        return None
    return left[0] if len(left) == 1 else {op: left}


def describe(expr: ScopeExpr) -> str:
    """Human-readable text for an expression, e.g. ``"all of:\\n- a\\n- any of:\\n  - b"``."""
    return "\n".join(_describe_lines(expr))


def _describe_lines(expr: ScopeExpr) -> list[str]:
    if isinstance(expr, str):
        return [expr]
    op, items = _operator(expr)
    label = "all of" if op == "AllOf" else "any of"
    if not items:
        return [f"{label}: (nothing)"]
    lines = [f"{label}:"]
    for item in items:
        first, *rest = _describe_lines(item)
        lines.append(f"- {first}")
        lines.extend(f"  {line}" for line in rest)
    return lines


# -- templates ------------------------------------------------------------------------------


def render(expr: ScopeExpr, params: Mapping[str, object]) -> ScopeExpr:
    """Fill a template's ``<param>`` placeholders and expand its for/each and if/then elements.

    The result holds only strings, AllOf and AnyOf. String parameters are substituted as-is
    (ints as decimal); a missing or ill-typed parameter raises ScopeTemplateError.
    """
    if isinstance(expr, str):
        return _fill(expr, params)
    op, items = _operator(expr)
    rendered: list[ScopeExpr] = []
    for item in items:
        rendered.extend(_render_item(item, params))
    return {op: rendered}


def _render_item(item: ScopeExpr, params: Mapping[str, object]) -> list[ScopeExpr]:
    if isinstance(item, dict) and "for" in item:
        return _render_for(item, params)
    if isinstance(item, dict) and "if" in item:
        return _render_if(item, params)
    return [render(item, params)]


def _render_for(item: dict[str, Any], params: Mapping[str, object]) -> list[ScopeExpr]:
    var, name, each = item.get("for"), item.get("in"), item.get("each")
    if (
        not (isinstance(var, str) and isinstance(name, str) and isinstance(each, str))
        or len(item) != 3
    ):
        raise ScopeTemplateError(f"malformed for/in/each element: {item!r}")
    values = _param(params, name)
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ScopeTemplateError(f"scope template parameter {name!r} must be a list")
    scope: dict[str, object] = dict(params)
    rendered: list[ScopeExpr] = []
    for value in values:
        scope[var] = value
        rendered.append(_fill(each, scope))
    return rendered


def _render_if(item: dict[str, Any], params: Mapping[str, object]) -> list[ScopeExpr]:
    name = item.get("if")
    if set(item) != {"if", "then"} or not isinstance(name, str):
        raise ScopeTemplateError(f"malformed if/then element: {item!r}")
    condition = _param(params, name)
    if not isinstance(condition, bool):
        raise ScopeTemplateError(f"scope template parameter {name!r} must be a bool")
    return [render(item["then"], params)] if condition else []


def _param(params: Mapping[str, object], name: str) -> object:
    if name not in params:
        raise ScopeTemplateError(f"scope template needs parameter {name!r}, which was not given")
    return params[name]


@lru_cache(maxsize=1024)
def _pieces(template: str) -> tuple[str, ...]:
    """The template split once: literal text at even places, parameter names at odd ones."""
    return tuple(_PLACEHOLDER.split(template))


def _fill(template: str, params: Mapping[str, object]) -> str:
    """Substitute every ``<name>`` in one pass (substituted text is never re-scanned)."""
    pieces = _pieces(template)
    if len(pieces) == 1:
        return template
    return "".join(
        piece if i % 2 == 0 else _text(piece, _param(params, piece))
        for i, piece in enumerate(pieces)
    )


def _text(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ScopeTemplateError(f"scope template parameter {name!r} must be a string, not {value!r}")


# -- roles ----------------------------------------------------------------------------------


class RoleIndex:
    """Roles (``{roleId: scopes}``) indexed for expansion; build once, expand many times."""

    __slots__ = ("_ids", "_roles", "_star_lengths", "_stars")

    def __init__(self, roles: Mapping[str, Sequence[str]]) -> None:
        self._roles = {role_id: tuple(_not_a_string(s)) for role_id, s in roles.items()}
        self._ids = sorted(self._roles)
        self._stars = {r[:-1]: s for r, s in self._roles.items() if r.endswith("*")}
        self._star_lengths = sorted({len(p) for p in self._stars})

    @staticmethod
    def grants_nothing(scope: str) -> bool:
        """Whether the held `scope` grants no role, whatever the roles are: it neither
        assumes one nor ends in a ``*`` that could cover an ``assume:`` scope."""
        if scope.startswith(_ASSUME):
            return False
        return not scope.endswith("*") or not (
            _ASSUME.startswith(scope[:-1]) or scope.startswith(_ASSUME)
        )

    def grants(self, scope: str) -> set[str]:
        """The scopes that the single held `scope` grants directly (one step, no recursion)."""
        granted: set[str] = set()
        if scope.endswith("*"):
            self._grant_pattern(scope[:-1], granted)
        if scope.startswith(_ASSUME):
            self._grant_name(scope[len(_ASSUME) :], granted)
        return granted

    def _grant_pattern(self, prefix: str, granted: set[str]) -> None:
        """Roles whose ``assume:<roleId>`` starts with `prefix` (the held scope was ``prefix*``)."""
        if _ASSUME.startswith(prefix):
            role_prefix = ""
        elif prefix.startswith(_ASSUME):
            role_prefix = prefix[len(_ASSUME) :]
        else:
            return
        for i in range(bisect_left(self._ids, role_prefix), len(self._ids)):
            role_id = self._ids[i]
            if not role_id.startswith(role_prefix):
                break
            star = "*" if role_id.endswith("*") else None
            granted.update(_substitute(s, star) for s in self._roles[role_id])

    def _grant_name(self, name: str, granted: set[str]) -> None:
        """Plain roles named `name` and parameterized roles whose prefix starts `name`."""
        if not name.endswith("*") and name in self._roles:
            granted.update(self._roles[name])
        for n in self._star_lengths:
            if n > len(name):
                break
            if name[:n] in self._stars:
                granted.update(_substitute(s, name[n:]) for s in self._stars[name[:n]])


def _substitute(scope: str, match: str | None) -> str:
    """Replace ``<..>`` by `match`; a `match` ending in ``*`` also swallows what follows."""
    if match is None or _PARAM not in scope:
        return scope
    if match.endswith("*"):
        return scope[: scope.index(_PARAM)] + match
    return scope.replace(_PARAM, match)


def expand(
    scopes: Iterable[str],
    roles: Mapping[str, Sequence[str]] | RoleIndex,
    *,
    max_depth: int = MAX_EXPANSION_DEPTH,
) -> list[str]:
    """Expand ``assume:`` scopes through `roles` to a fixed point; the result is normalized.

    Each scope is expanded once, so cycles among roles terminate. Parameterized roles can make
    ever longer scopes (``a*`` granting ``assume:a<..>x``), so chains of roles assuming roles
    longer than `max_depth` raise RoleExpansionError.
    """
    index = roles if isinstance(roles, RoleIndex) else RoleIndex(roles)
    seen = set(_not_a_string(scopes))
    frontier = set(seen)
    for _ in range(max_depth + 1):  # the last round only confirms the fixed point
        new = {granted for scope in frontier for granted in index.grants(scope)} - seen
        if not new:
            return normalize(seen)
        seen |= new
        frontier = new
    raise RoleExpansionError(f"role expansion did not settle within {max_depth} rounds")
