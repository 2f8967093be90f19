"""protocol.md stays in step with the endpoint table, the error codes and the exchanges.

The endpoint table (clients/protocol/endpoints.py) is the source of truth; protocol.md is its
prose. These tests fail when an endpoint, a route, a scope, an error code or an exchange is
added, renamed or removed in the code without protocol.md following.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.protocol.endpoints import ENDPOINTS, Endpoint
from clients.protocol.errors import STATUS_OF, ErrorCode
from clients.protocol.events import Exchange
from clients.protocol.hook_endpoints import HOOK_ENDPOINTS
from clients.protocol.worker_manager_endpoints import WORKER_MANAGER_ENDPOINTS

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "protocol.md"

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+")
# Characters that continue a scope or a route: a mention must not be part of a longer one, so
# that `queue:schedule-task` is not found inside `queue:schedule-task:<schedulerId>/...`.
_WORD = r"[\w:<>/#*-]"


@dataclass(frozen=True)
class Section:
    level: int
    title: str  # without a leading section number such as "8." or "11.2"
    body: str  # everything up to the next heading of the same or a higher level


def parse_sections(text: str) -> list[Section]:
    """Every heading outside fenced code blocks, with the text it heads."""
    lines = text.splitlines()
    headings: list[tuple[int, int, str]] = []
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            title = _NUMBER.sub("", match.group(2))
            headings.append((index, len(match.group(1)), title))
    sections = []
    for position, (start, level, title) in enumerate(headings):
        end = next(
            (line for line, other, _ in headings[position + 1 :] if other <= level), len(lines)
        )
        sections.append(Section(level, title, "\n".join(lines[start + 1 : end])))
    return sections


@dataclass(frozen=True)
class ProtocolDoc:
    sections: list[Section]

    def chapter(self, title: str) -> Section:
        """The one level-2 section titled `title` (numbering aside)."""
        found = [s for s in self.sections if s.level == 2 and s.title == title]
        assert len(found) == 1, f"protocol.md must have exactly one `## {title}` section"
        return found[0]

    def endpoint_subsections(self) -> list[Section]:
        """The level-3 sections under "Endpoints", in document order."""
        endpoints = self.chapter("Endpoints")
        start = self.sections.index(endpoints)
        inside = []
        for section in self.sections[start + 1 :]:
            if section.level <= 2:
                break
            if section.level == 3:
                inside.append(section)
        return inside

    def endpoint(self, name: str) -> Section:
        found = [s for s in self.endpoint_subsections() if s.title == name]
        if len(found) != 1:
            pytest.fail(f"protocol.md needs exactly one `### {name}` under Endpoints")
        return found[0]


@pytest.fixture(scope="module")
def doc() -> ProtocolDoc:
    return ProtocolDoc(parse_sections(PROTOCOL_MD.read_text(encoding="utf-8")))


def mentions(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` on its own, not as part of a longer scope or route."""
    return re.search(f"(?<!{_WORD}){re.escape(phrase)}(?!{_WORD})", text) is not None


def scope_literals(expr: object) -> Iterator[str]:
    """Each string leaf of a scope expression template, and the `each` of its for-loops."""
    if isinstance(expr, str):
        yield expr
    elif isinstance(expr, dict) and "for" in expr:
        yield expr["each"]
    elif isinstance(expr, dict) and "if" in expr:
        yield from scope_literals(expr["then"])
    elif isinstance(expr, dict) and len(expr) == 1 and set(expr) <= {"AllOf", "AnyOf"}:
        for item in next(iter(expr.values())):
            yield from scope_literals(item)
    else:
        raise AssertionError(f"unknown scope expression shape: {expr!r}")


ENDPOINT_IDS = [endpoint.name for endpoint in ENDPOINTS]
SCOPED = [endpoint for endpoint in ENDPOINTS if endpoint.scopes is not None]


def test_every_endpoint_has_exactly_one_subsection_under_endpoints(doc: ProtocolDoc) -> None:
    headings = [section.title for section in doc.endpoint_subsections()]
    duplicated = sorted({name for name in headings if headings.count(name) > 1})
    missing = sorted(set(ENDPOINT_IDS) - set(headings))
    extra = sorted(set(headings) - set(ENDPOINT_IDS))
    assert not (duplicated or missing or extra), (
        f"`### <name>` headings under Endpoints must be exactly the ENDPOINTS names;"
        f" missing: {missing}, extra: {extra}, duplicated: {duplicated}"
    )


def test_endpoint_subsections_follow_the_table_order(doc: ProtocolDoc) -> None:
    headings = [section.title for section in doc.endpoint_subsections()]
    documented = [name for name in headings if name in ENDPOINT_IDS]
    expected = [name for name in ENDPOINT_IDS if name in headings]
    assert documented == expected


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_endpoint_subsection_gives_method_and_route(doc: ProtocolDoc, endpoint: Endpoint) -> None:
    route = f"{endpoint.method} {endpoint.route}"
    assert mentions(doc.endpoint(endpoint.name).body, route), (
        f"`### {endpoint.name}` must say `{route}`"
    )


@pytest.mark.parametrize("endpoint", SCOPED, ids=[endpoint.name for endpoint in SCOPED])
def test_endpoint_subsection_names_every_literal_scope(
    doc: ProtocolDoc, endpoint: Endpoint
) -> None:
    body = doc.endpoint(endpoint.name).body
    missing = [scope for scope in scope_literals(endpoint.scopes) if not mentions(body, scope)]
    assert not missing, f"`### {endpoint.name}` does not name the scopes {missing}"


def test_errors_section_names_every_error_code(doc: ProtocolDoc) -> None:
    body = doc.chapter("Errors").body
    missing = [code.value for code in ErrorCode if not mentions(body, code.value)]
    assert not missing, f"the Errors section does not name {missing}"


def test_errors_section_gives_each_code_its_status(doc: ProtocolDoc) -> None:
    lines = doc.chapter("Errors").body.splitlines()
    wrong = [
        code.value
        for code in ErrorCode
        if not any(
            mentions(line, code.value) and re.search(rf"\b{STATUS_OF[code]}\b", line)
            for line in lines
        )
    ]
    assert not wrong, f"no line of the Errors section gives these codes their status: {wrong}"


def test_events_section_names_every_exchange(doc: ProtocolDoc) -> None:
    body = doc.chapter("Events").body
    missing = [exchange.value for exchange in Exchange if not mentions(body, exchange.value)]
    assert not missing, f"the Events section does not name the exchanges {missing}"


# -- the Hooks v1 table (served by the scheduler), documented under "Hooks" ------------------


def _hook_subsections(doc: ProtocolDoc) -> list[Section]:
    hooks = doc.chapter("Hooks")
    start = doc.sections.index(hooks)
    table = next(
        s for s in doc.sections[start + 1 :] if s.level == 3 and s.title == "Hooks endpoints"
    )
    inside = []
    for section in doc.sections[doc.sections.index(table) + 1 :]:
        if section.level <= 3:
            break
        if section.level == 4:
            inside.append(section)
    return inside


HOOK_IDS = [endpoint.name for endpoint in HOOK_ENDPOINTS]


def test_every_hooks_endpoint_has_exactly_one_subsection_in_table_order(doc: ProtocolDoc) -> None:
    headings = [section.title for section in _hook_subsections(doc)]
    assert headings == HOOK_IDS


@pytest.mark.parametrize("endpoint", HOOK_ENDPOINTS, ids=HOOK_IDS)
def test_hooks_endpoint_subsection_gives_route_and_scopes(
    doc: ProtocolDoc, endpoint: Endpoint
) -> None:
    [section] = [s for s in _hook_subsections(doc) if s.title == endpoint.name]
    route = f"{endpoint.method} {endpoint.route}"
    assert mentions(section.body, route), f"`#### {endpoint.name}` must say `{route}`"
    literals = [] if endpoint.scopes is None else list(scope_literals(endpoint.scopes))
    missing = [scope for scope in literals if not mentions(section.body, scope)]
    assert not missing, f"`#### {endpoint.name}` does not name the scopes {missing}"


# -- the Worker-Manager v1 table (served by the provisioner), under "Worker-manager" ---------


def _chapter_subsections(doc: ProtocolDoc, chapter: str, table: str) -> list[Section]:
    start = doc.sections.index(doc.chapter(chapter))
    heading = next(s for s in doc.sections[start + 1 :] if s.level == 3 and s.title == table)
    inside = []
    for section in doc.sections[doc.sections.index(heading) + 1 :]:
        if section.level <= 3:
            break
        if section.level == 4:
            inside.append(section)
    return inside


WM_IDS = [endpoint.name for endpoint in WORKER_MANAGER_ENDPOINTS]


def test_every_worker_manager_endpoint_has_one_subsection_in_table_order(doc: ProtocolDoc) -> None:
    headings = [
        s.title for s in _chapter_subsections(doc, "Worker-manager", "Worker-manager endpoints")
    ]
    assert headings == WM_IDS


@pytest.mark.parametrize("endpoint", WORKER_MANAGER_ENDPOINTS, ids=WM_IDS)
def test_worker_manager_endpoint_subsection_gives_route_and_scopes(
    doc: ProtocolDoc, endpoint: Endpoint
) -> None:
    sections = _chapter_subsections(doc, "Worker-manager", "Worker-manager endpoints")
    [section] = [s for s in sections if s.title == endpoint.name]
    route = f"{endpoint.method} {endpoint.route}"
    assert mentions(section.body, route), f"`#### {endpoint.name}` must say `{route}`"
    literals = [] if endpoint.scopes is None else list(scope_literals(endpoint.scopes))
    missing = [scope for scope in literals if not mentions(section.body, scope)]
    assert not missing, f"`#### {endpoint.name}` does not name the scopes {missing}"
