"""Routing-key patterns match as RabbitMQ topic bindings do: `*` one word, `#` any number."""

from __future__ import annotations

import pytest

from clients.protocol.routing import Pattern, pattern_problem

CASES = [
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("*", "a", True),
    ("*", "a.b", False),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("a.#", "a", True),
    ("a.#", "a.b.c", True),
    ("a.#", "b.a", False),
    ("#.c", "c", True),
    ("#.c", "a.b.c", True),
    ("#.c", "a.b.c.d", False),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.b.b.c", True),
    ("a.#.c", "a.b.d", False),
    ("#.#", "a.b", True),
    ("*.#", "a", True),
    ("*.*.#", "a", False),
    ("#.*", "a.b.c", True),
    ("a.b", "a.b", True),
    ("a.b", "a.bb", False),
    ("a*", "a.b", False),
    ("a*", "a*", True),
    ("primary.T.#", "primary.T.0.g.w.p.wt.-.G._", True),
    ("primary.*.*.*.*.*.*.*.G.#", "primary.T.0.g.w.p.wt.-.G._", True),
    ("primary.*.*.*.*.*.*.*.G.#", "primary.T.0.g.w.p.wt.-.H._", False),
    ("primary.*.*.*.*.p.wt.#", "primary.T._._._.p.wt.-.G._", True),
    ("route.index.#", "route.index.a.b", True),
]


@pytest.mark.parametrize(("pattern", "key", "expected"), CASES)
def test_patterns_match_as_amqp_topic_bindings(pattern: str, key: str, expected: bool) -> None:
    assert Pattern.compile(pattern).matches_key(key) is expected


def test_only_patterns_with_two_literal_leading_words_are_indexable() -> None:
    assert Pattern.compile("primary.abc.#").literal_head == ("primary", "abc")
    assert Pattern.compile("primary.*.#").literal_head is None
    assert Pattern.compile("#").literal_head is None
    assert Pattern.compile("route.index").literal_head == ("route", "index")


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "a\nb"])
def test_bad_patterns_are_refused_with_a_reason(bad: str) -> None:
    assert pattern_problem(bad)
    with pytest.raises(ValueError, match="pattern"):
        Pattern.compile(bad)
