"""Taskcluster scope semantics (clients.protocol.scopes)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from clients.protocol.scopes import (
    RoleExpansionError,
    RoleIndex,
    ScopeExpr,
    ScopeSet,
    ScopeTemplateError,
    describe,
    evaluate,
    expand,
    is_valid_scope,
    normalize,
    render,
    satisfies,
    satisfies_all,
    unsatisfied,
)

# -- validity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    ["", "queue:get-task:abc", "*", "a b", " ~!<>", "assume:repo:github.com/org/repo:*"],
)
def test_valid_scopes(scope: str) -> None:
    assert is_valid_scope(scope)


@pytest.mark.parametrize(
    "scope",
    [
        "queue:\n",
        "\n",
        "tab\there",
        "nul\x00",
        "del\x7f",
        "caf\u00e9",
        "snow\u2603",
        "emoji\U0001f600",
    ],
)
def test_invalid_scopes(scope: str) -> None:
    assert not is_valid_scope(scope)


# -- satisfaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "required", "expected"),
    [
        (["queue:get-task:abc"], "queue:get-task:abc", True),  # exact
        (["queue:get-task:abc"], "queue:get-task:abd", False),
        (["queue:get-task:abc"], "queue:get-task:ab", False),  # not a prefix match
        (["queue:get-task:ab"], "queue:get-task:abc", False),
        (["queue:*"], "queue:get-task:abc", True),  # star
        (["queue:*"], "queue:", True),  # star at empty remainder
        (["queue:*"], "queue", False),
        (["queue:*"], "queue:*", True),
        (["a*"], "a", True),
        (["a*"], "ab*", True),
        (["*"], "anything:at:all", True),  # `*` alone
        (["*"], "", True),
        (["*"], "*", True),
        ([], "", False),
        ([""], "", True),
        (["queue:get-task:abc"], "queue:*", False),  # required is never a pattern
        (["queue:get-task:abc"], "*", False),
        (["queue:x*y"], "queue:xzy", False),  # only a trailing star is special
        (["queue:x*y"], "queue:x*y", True),
        (["queue:**"], "queue:*x", True),
        (["queue:**"], "queue:x", False),
        (["b*", "a:x"], "a:x", True),
        (["b*", "a:x"], "c", False),
    ],
)
def test_satisfies(held: list[str], required: str, expected: bool) -> None:
    assert satisfies(held, required) is expected
    assert ScopeSet(held).satisfies(required) is expected
    assert satisfies(ScopeSet(held), required) is expected


def test_satisfies_all() -> None:
    held = ScopeSet(["queue:get-task:*", "queue:status:abc"])
    assert satisfies_all(held, ["queue:get-task:a", "queue:status:abc"])
    assert not satisfies_all(held, ["queue:get-task:a", "queue:status:abd"])
    assert satisfies_all([], [])
    assert satisfies_all(iter(["a"]), iter(["a"]))  # one-shot iterables


def test_single_string_is_rejected_as_a_scope_set() -> None:
    with pytest.raises(TypeError):
        satisfies("queue:*", "queue:x")
    with pytest.raises(TypeError):
        satisfies_all(["a"], "a")


def _naive_satisfies(held: list[str], required: str) -> bool:
    return any(h == required or (h.endswith("*") and required.startswith(h[:-1])) for h in held)


def test_scope_set_agrees_with_naive_definition() -> None:
    rng = random.Random(1234)
    alphabet = "ab*"
    for _ in range(300):
        held = ["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(5)]
        scope_set = ScopeSet(held)
        assert normalize(scope_set) == list(scope_set.scopes)
        for _ in range(10):
            required = "".join(rng.choices(alphabet, k=rng.randint(0, 5)))
            assert scope_set.satisfies(required) is _naive_satisfies(held, required)
            # normalizing never changes what is satisfied
            assert _naive_satisfies(list(scope_set.scopes), required) is scope_set.satisfies(
                required
            )
        for scope in scope_set.scopes:  # normalized: no scope satisfies another
            others = [o for o in scope_set.scopes if o != scope]
            assert not _naive_satisfies(others, scope)


# -- normalization --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ([], []),
        (["b", "a", "b"], ["a", "b"]),
        (["queue:*", "queue:get-task:x", "queue:"], ["queue:*"]),
        (["a*", "ab*", "abc"], ["a*"]),
        (["a*", "a*"], ["a*"]),
        (["a", "a*"], ["a*"]),
        (["a**", "a*"], ["a*"]),  # they satisfy each other: keep the shorter
        (["**", "*"], ["*"]),
        (["*", "x", "assume:y", "*"], ["*"]),
        (["queue:x", "queue"], ["queue", "queue:x"]),
        (["a:*", "b:*", "a:x", "b", "c"], ["a:*", "b", "b:*", "c"]),
    ],
)
def test_normalize(scopes: list[str], expected: list[str]) -> None:
    assert normalize(scopes) == expected
    assert list(ScopeSet(scopes).scopes) == expected
    assert list(ScopeSet(scopes)) == expected
    assert len(ScopeSet(scopes)) == len(expected)


# -- expressions ----------------------------------------------------------------------------

NESTED: ScopeExpr = {
    "AllOf": [
        "a",
        {"AnyOf": ["b", "c", {"AllOf": ["d", "e"]}]},
    ]
}


@pytest.mark.parametrize(
    ("expr", "held", "expected"),
    [
        ("a", ["a"], True),
        ("a", ["b"], False),
        ({"AllOf": []}, [], True),  # empty AllOf is satisfied
        ({"AnyOf": []}, ["*"], False),  # empty AnyOf is not, even by `*`
        ({"AllOf": ["a", "b"]}, ["a"], False),
        ({"AllOf": ["a", "b"]}, ["a", "b"], True),
        ({"AnyOf": ["a", "b"]}, ["b"], True),
        ({"AnyOf": ["a", "b"]}, ["c"], False),
        ({"AllOf": [{"AnyOf": []}]}, ["*"], False),
        ({"AnyOf": [{"AllOf": []}]}, [], True),
        (NESTED, ["a", "b"], True),
        (NESTED, ["a", "d", "e"], True),
        (NESTED, ["a", "d"], False),
        (NESTED, ["b", "c"], False),
        (NESTED, ["*"], True),
    ],
)
def test_evaluate(expr: ScopeExpr, held: list[str], expected: bool) -> None:
    assert evaluate(expr, held) is expected
    assert evaluate(expr, ScopeSet(held)) is expected
    assert (unsatisfied(expr, held) is None) is expected


@pytest.mark.parametrize(
    "expr",
    [
        {},
        {"AllOf": "a"},
        {"AllOf": [], "AnyOf": []},
        {"NoneOf": ["a"]},
        {"AllOf": [{"for": "x", "in": "xs", "each": "<x>"}]},  # unrendered template
        {"AllOf": [1]},
    ],
)
def test_malformed_expressions_are_rejected(expr: Any) -> None:
    with pytest.raises(ScopeTemplateError):
        evaluate(expr, ["*"])
    with pytest.raises(ScopeTemplateError):
        describe(expr)


@pytest.mark.parametrize(
    ("expr", "held", "expected"),
    [
        ("a", ["a"], None),
        ("a", [], "a"),
        ({"AllOf": ["a", "b", "c"]}, ["b"], {"AllOf": ["a", "c"]}),
        ({"AllOf": ["a", "b"]}, ["b"], "a"),  # single element collapses
        ({"AnyOf": ["a", "b"]}, [], {"AnyOf": ["a", "b"]}),
        ({"AnyOf": ["a", "b"]}, ["b"], None),
        ({"AnyOf": []}, [], {"AnyOf": []}),
        ({"AllOf": []}, [], None),
        ({"AllOf": ["a", {"AnyOf": []}]}, ["a"], {"AnyOf": []}),
        ({"AnyOf": ["a", {"AllOf": ["b", "c"]}]}, ["b"], {"AnyOf": ["a", "c"]}),
        (NESTED, ["a", "d"], {"AnyOf": ["b", "c", "e"]}),
        (NESTED, ["d"], {"AllOf": ["a", {"AnyOf": ["b", "c", "e"]}]}),
        (NESTED, [], {"AllOf": ["a", {"AnyOf": ["b", "c", {"AllOf": ["d", "e"]}]}]}),
        # same-kind nesting is flattened
        ({"AllOf": ["a", {"AllOf": ["b", "c"]}]}, ["b"], {"AllOf": ["a", "c"]}),
        ({"AnyOf": ["a", {"AnyOf": ["b", "c"]}]}, [], {"AnyOf": ["a", "b", "c"]}),
        ({"AllOf": [{"AnyOf": ["x"]}, "queue:*"]}, ["queue:*"], "x"),
    ],
)
def test_unsatisfied(expr: ScopeExpr, held: list[str], expected: ScopeExpr | None) -> None:
    assert unsatisfied(expr, held) == expected
    assert unsatisfied(expr, ScopeSet(held)) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("queue:get-task:abc", "queue:get-task:abc"),
        ({"AllOf": ["a", {"AnyOf": ["b", "c"]}]}, "all of:\n- a\n- any of:\n  - b\n  - c"),
        ({"AnyOf": ["a", "b"]}, "any of:\n- a\n- b"),
        ({"AnyOf": []}, "any of: (nothing)"),
        ({"AllOf": []}, "all of: (nothing)"),
        (
            NESTED,
            "all of:\n- a\n- any of:\n  - b\n  - c\n  - all of:\n    - d\n    - e",
        ),
        ({"AllOf": [{"AnyOf": []}]}, "all of:\n- any of: (nothing)"),
    ],
)
def test_describe(expr: ScopeExpr, expected: str) -> None:
    assert describe(expr) == expected


# -- templates ------------------------------------------------------------------------------

CREATE_TASK: ScopeExpr = {
    "AllOf": [
        {"for": "scope", "in": "scopes", "each": "<scope>"},
        {"for": "route", "in": "routes", "each": "queue:route:<route>"},
        "queue:create-task:project:<projectId>",
        {"if": "private", "then": {"AnyOf": ["queue:private:<projectId>", "queue:admin"]}},
        {
            "AnyOf": [
                {
                    "for": "priority",
                    "in": "priorities",
                    "each": "queue:create-task:<priority>:<taskQueueId>",
                }
            ]
        },
    ]
}
CREATE_PARAMS: dict[str, object] = {
    "scopes": ["secrets:get:x", "docker-worker:cache:y"],
    "routes": ["index.a.b"],
    "projectId": "proj",
    "private": False,
    "priorities": ["highest", "lowest"],
    "taskQueueId": "prov/wt",
}


@pytest.mark.parametrize(
    ("expr", "params", "expected"),
    [
        ("plain", {}, "plain"),
        ("queue:get-task:<taskId>", {"taskId": "abc"}, "queue:get-task:abc"),
        ("q:<a>/<b>/<a>", {"a": "1", "b": "2"}, "q:1/2/1"),
        ("q:run:<runId>", {"runId": 3}, "q:run:3"),
        ("q:<a>", {"a": "<b>", "b": "no"}, "q:<b>"),  # substituted text is not re-scanned
        ("assume:role:<..>", {}, "assume:role:<..>"),  # not a placeholder
        (
            {"AllOf": ["a:<x>", {"AnyOf": ["b:<x>"]}]},
            {"x": "1"},
            {"AllOf": ["a:1", {"AnyOf": ["b:1"]}]},
        ),
        (
            {"AllOf": [{"for": "t", "in": "ts", "each": "get:<t>"}]},
            {"ts": ["a", "b"]},
            {"AllOf": ["get:a", "get:b"]},
        ),
        ({"AllOf": [{"for": "t", "in": "ts", "each": "get:<t>"}]}, {"ts": []}, {"AllOf": []}),
        (
            {"AnyOf": [{"for": "t", "in": "ts", "each": "<p>:<t>"}]},
            {"ts": ("a",), "p": "x", "t": "shadowed"},
            {"AnyOf": ["x:a"]},
        ),
        ({"AllOf": [{"if": "f", "then": "yes"}, "z"]}, {"f": True}, {"AllOf": ["yes", "z"]}),
        ({"AllOf": [{"if": "f", "then": "yes"}, "z"]}, {"f": False}, {"AllOf": ["z"]}),
        (
            {"AnyOf": [{"if": "f", "then": {"AllOf": ["<a>", "b"]}}]},
            {"f": True, "a": "A"},
            {"AnyOf": [{"AllOf": ["A", "b"]}]},
        ),
        (
            CREATE_TASK,
            CREATE_PARAMS,
            {
                "AllOf": [
                    "secrets:get:x",
                    "docker-worker:cache:y",
                    "queue:route:index.a.b",
                    "queue:create-task:project:proj",
                    {
                        "AnyOf": [
                            "queue:create-task:highest:prov/wt",
                            "queue:create-task:lowest:prov/wt",
                        ]
                    },
                ]
            },
        ),
        (
            CREATE_TASK,
            {**CREATE_PARAMS, "private": True, "scopes": [], "routes": []},
            {
                "AllOf": [
                    "queue:create-task:project:proj",
                    {"AnyOf": ["queue:private:proj", "queue:admin"]},
                    {
                        "AnyOf": [
                            "queue:create-task:highest:prov/wt",
                            "queue:create-task:lowest:prov/wt",
                        ]
                    },
                ]
            },
        ),
    ],
)
def test_render(expr: ScopeExpr, params: dict[str, object], expected: ScopeExpr) -> None:
    assert render(expr, params) == expected


def test_render_does_not_mutate_template() -> None:
    before = repr(CREATE_TASK)
    render(CREATE_TASK, CREATE_PARAMS)
    assert repr(CREATE_TASK) == before


def test_rendered_create_task_evaluates() -> None:
    rendered = render(CREATE_TASK, CREATE_PARAMS)
    held = ["secrets:get:*", "docker-worker:cache:y", "queue:route:index.*", "queue:create-task:*"]
    assert evaluate(rendered, held)
    assert unsatisfied(rendered, held[1:]) == "secrets:get:x"


@pytest.mark.parametrize(
    ("expr", "params", "message"),
    [
        ("queue:get-task:<taskId>", {}, "taskId"),
        ({"AllOf": ["<a>"]}, {"b": "x"}, "'a'"),
        ({"AllOf": [{"for": "t", "in": "ts", "each": "<t>"}]}, {}, "'ts'"),
        ({"AllOf": [{"for": "t", "in": "ts", "each": "<t>:<u>"}]}, {"ts": ["a"]}, "'u'"),
        ({"AllOf": [{"if": "f", "then": "x"}]}, {}, "'f'"),
        ({"AllOf": [{"if": "f", "then": "<y>"}]}, {"f": True}, "'y'"),
    ],
)
def test_render_missing_param(expr: ScopeExpr, params: dict[str, object], message: str) -> None:
    with pytest.raises(ScopeTemplateError, match=message):
        render(expr, params)


@pytest.mark.parametrize(
    ("expr", "params"),
    [
        ("q:<a>", {"a": None}),
        ("q:<a>", {"a": True}),  # a bool is not a number
        ("q:<a>", {"a": ["x"]}),
        ({"AllOf": [{"for": "t", "in": "ts", "each": "<t>"}]}, {"ts": "abc"}),  # not a list
        ({"AllOf": [{"for": "t", "in": "ts", "each": "<t>"}]}, {"ts": [None]}),
        ({"AllOf": [{"for": "t", "in": "ts"}]}, {"ts": ["a"]}),
        ({"AllOf": [{"for": "t", "in": "ts", "each": "<t>", "x": 1}]}, {"ts": ["a"]}),
        ({"AllOf": [{"for": "t", "in": "ts", "each": {"AllOf": []}}]}, {"ts": ["a"]}),
        ({"AllOf": [{"if": "f", "then": "x"}]}, {"f": "yes"}),  # not a bool
        ({"AllOf": [{"if": "f"}]}, {"f": True}),
        ({"for": "t", "in": "ts", "each": "<t>"}, {"ts": ["a"]}),  # only inside lists
        ({"if": "f", "then": "x"}, {"f": True}),
        ({"AllOf": "x"}, {}),
    ],
)
def test_render_rejects_bad_templates(expr: Any, params: dict[str, object]) -> None:
    with pytest.raises(ScopeTemplateError):
        render(expr, params)


# -- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "roles", "expected"),
    [
        (["x"], {"r": ["y"]}, ["x"]),  # no assume: nothing to expand
        (["assume:r"], {}, ["assume:r"]),  # unknown role
        (["assume:r", "x"], {"r": ["y", "z"]}, ["assume:r", "x", "y", "z"]),  # plain role
        (["assume:r"], {"r": ["q:*", "q:a"]}, ["assume:r", "q:*"]),  # result normalized
        (["assume:rx"], {"r": ["y"]}, ["assume:rx"]),  # plain role id is not a prefix
        # chained roles
        (
            ["assume:group:admins", "my-scope"],
            {
                "group:admins": ["admin-scope-1", "admin-scope-2", "assume:group:devs"],
                "group:devs": ["dev-scope"],
            },
            [
                "admin-scope-1",
                "admin-scope-2",
                "assume:group:admins",
                "assume:group:devs",
                "dev-scope",
                "my-scope",
            ],
        ),
        (
            ["assume:a"],
            {"a": ["assume:b"], "b": ["assume:c"], "c": ["assume:d"], "d": ["deep"]},
            ["assume:a", "assume:b", "assume:c", "assume:d", "deep"],
        ),
        # cycles terminate
        (
            ["assume:a"],
            {"a": ["assume:b", "x"], "b": ["assume:a", "y"]},
            ["assume:a", "assume:b", "x", "y"],
        ),
        (["assume:a"], {"a": ["assume:a"]}, ["assume:a"]),
        # star role ids
        (
            ["assume:repo:github.com/foo/bar"],
            {"repo:github.com/*": ["queue:create-task:low:proj/ci"]},
            ["assume:repo:github.com/foo/bar", "queue:create-task:low:proj/ci"],
        ),
        (["assume:repo:gitlab.com/x"], {"repo:github.com/*": ["y"]}, ["assume:repo:gitlab.com/x"]),
        (["assume:anything"], {"*": ["everyone"]}, ["assume:anything", "everyone"]),
        # parameterized roles
        (
            ["assume:project-admin:focus"],
            {"project-admin:*": ["assume:project:<..>:*", "auth:create-client:project/<..>/*"]},
            [
                "assume:project-admin:focus",
                "assume:project:focus:*",
                "auth:create-client:project/focus/*",
            ],
        ),
        (["assume:p:"], {"p:*": ["s:<..>:x"]}, ["assume:p:", "s::x"]),  # empty match
        (["assume:p:a"], {"p:*": ["s:<..>/<..>"]}, ["assume:p:a", "s:a/a"]),  # every <..>
        (["assume:p"], {"p": ["s:<..>"]}, ["assume:p", "s:<..>"]),  # plain role: verbatim
        # a held pattern matched by the role's star: the match keeps its `*`, the rest is cut
        (
            ["assume:project-admin:fo*"],
            {"project-admin:*": ["assume:project:<..>:*", "secrets:get:<..>/x", "plain"]},
            ["assume:project-admin:fo*", "assume:project:fo*", "plain", "secrets:get:fo*"],
        ),
        # held assume:*-style patterns grant every role they prefix-match
        (
            ["assume:repo:gh*"],
            {"repo:gh/a": ["a"], "repo:gh-b": ["b"], "repo:gl/c": ["c"], "repo:g": ["g"]},
            ["a", "assume:repo:gh*", "b"],
        ),
        (
            ["assume:repo:*"],
            {"repo:x": ["x"], "repo:y*": ["y:<..>:z"], "other": ["o"]},
            ["assume:repo:*", "x", "y:*"],
        ),
        (
            ["assume:pro*"],  # shorter than the role's prefix: <..> and the rest become *
            {"project:*": ["s:<..>:t", "u"]},
            ["assume:pro*", "s:*", "u"],
        ),
        (["assume:*"], {"a": ["x"], "b*": ["y:<..>"]}, ["assume:*", "x", "y:*"]),
        (["assu*"], {"a": ["x"]}, ["assu*", "x"]),
        (["*"], {"a": ["x"], "b": ["assume:c"], "c": ["z"]}, ["*"]),
        (["queue:*"], {"a": ["x"]}, ["queue:*"]),  # a star that cannot match assume:
        # chained through a parameterized role
        (
            ["assume:login:alice"],
            {"login:*": ["assume:user:<..>"], "user:*": ["secrets:get:home/<..>"]},
            ["assume:login:alice", "assume:user:alice", "secrets:get:home/alice"],
        ),
        # parameterized role cycles that settle
        (["assume:a:x"], {"a:*": ["assume:a:<..>"]}, ["assume:a:x"]),
        (["assume:a*"], {"a*": ["assume:a<..>x"]}, ["assume:a*"]),
    ],
)
def test_expand(scopes: list[str], roles: dict[str, list[str]], expected: list[str]) -> None:
    assert expand(scopes, roles) == expected
    assert expand(scopes, RoleIndex(roles)) == expected


def test_expand_reuses_role_index_and_accepts_scope_sets() -> None:
    index = RoleIndex({"r": ["s"]})
    assert expand(ScopeSet(["assume:r"]), index) == ["assume:r", "s"]
    assert expand([], index) == []
    assert index.grants("assume:r") == {"s"}
    assert index.grants("r") == set()


def test_expand_unbounded_parameterized_roles_raise() -> None:
    roles = {"a*": ["assume:a<..>x"]}  # assume:ab -> assume:abx -> assume:abxx -> ...
    with pytest.raises(RoleExpansionError):
        expand(["assume:ab"], roles)
    with pytest.raises(RoleExpansionError):
        expand(["assume:ab"], roles, max_depth=5)


def test_expand_max_depth_counts_rounds() -> None:
    roles = {f"r{i}": [f"assume:r{i + 1}"] for i in range(10)}
    assert "assume:r10" in expand(["assume:r0"], roles, max_depth=10)
    with pytest.raises(RoleExpansionError):
        expand(["assume:r0"], roles, max_depth=9)


def test_expand_rejects_a_single_string() -> None:
    with pytest.raises(TypeError):
        expand("assume:r", {"r": ["s"]})


def _naive_grants(scope: str, roles: dict[str, list[str]]) -> set[str]:
    """The spec, role by role: what one held scope grants directly."""
    granted: set[str] = set()
    for role_id, role_scopes in roles.items():
        assume = f"assume:{role_id}"
        for rs in role_scopes:
            if role_id.endswith("*") and scope.startswith(assume[:-1]):
                match = scope[len(assume) - 1 :]
                cut = match.endswith("*") and "<..>" in rs
                granted.add(rs[: rs.index("<..>")] + match if cut else rs.replace("<..>", match))
            if scope.endswith("*") and assume.startswith(scope[:-1]):
                star = role_id.endswith("*") and "<..>" in rs
                granted.add(rs[: rs.index("<..>")] + "*" if star else rs)
            if scope == assume and not role_id.endswith("*"):
                granted.add(rs)
    return granted


def test_role_index_agrees_with_naive_definition() -> None:
    rng = random.Random(4321)

    def word(k: int) -> str:
        return "".join(rng.choices("ab*", k=rng.randint(0, k)))

    for _ in range(200):
        roles = {
            word(3): [
                rng.choice(["", "assume:", "x:"]) + word(2) + "<..>" * rng.randint(0, 1) + word(2)
                for _ in range(2)
            ]
            for _ in range(4)
        }
        index = RoleIndex(roles)
        for _ in range(10):
            scope = rng.choice(["", "assume:", "assum", "x:"]) + word(4)
            assert index.grants(scope) == _naive_grants(scope, roles), (scope, roles)


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["queue:resolve-task:abc/0", "queue:get-task:x"],  # the second already covered
        ["b:1", "a:2", "b:1"],
        ["queue:*", "z:1"],  # a star scope that makes held ones redundant
        ["*"],
    ],
)
def test_union_is_the_normalized_set_of_both(extra: list[str]) -> None:
    held = ScopeSet(["queue:get-task:*", "a:1", "assume:anonymous"])
    joined = held.union(extra)
    expected = ScopeSet([*held.scopes, *extra])
    assert joined.scopes == expected.scopes
    for probe in ["queue:get-task:y", "queue:other", "b:1", "b:2", "z:1", "x"]:
        assert joined.satisfies(probe) == expected.satisfies(probe)


@pytest.mark.parametrize(
    "scope", ["queue:x", "queue:x*", "a*", "assu*", "assume:*", "assume:repo:x", "*", ""]
)
def test_a_scope_said_to_grant_nothing_grants_no_role(scope: str) -> None:
    roles = RoleIndex({"anonymous": ["s:1"], "repo:*": ["r:<..>"], "queue:x": ["q:1"]})
    if RoleIndex.grants_nothing(scope):
        assert roles.grants(scope) == set()
    assert RoleIndex.grants_nothing(scope) == (
        not scope.startswith("assume:") and scope not in ("a*", "assu*", "*")
    )


def test_only_a_held_star_holds_everything() -> None:
    assert ScopeSet(["*"]).holds_everything
    assert ScopeSet(["a", "*", "b*"]).holds_everything
    assert not ScopeSet(["a*", "queue:*"]).holds_everything
    assert not ScopeSet([]).holds_everything
