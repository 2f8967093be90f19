"""The worker's lines that end a task log, which `infrax submit --wait` shows (pure)."""

from __future__ import annotations

from clients.protocol.livelog import closing_worker_lines

HEADER = "[infrax 2030-01-01T00:00:00.000Z] task T run 0 on g/w (p/t, process engine)"


def line(message: str) -> str:
    return f"[infrax 2030-01-01T00:00:01.000Z] {message}"


def test_the_worker_lines_after_the_last_output_are_the_closing_ones() -> None:
    log = "\n".join(
        [HEADER, line("running sh"), "output", line("resources: CPU 0.01 s"), line("result: x")]
    )
    assert closing_worker_lines(log + "\n") == [line("resources: CPU 0.01 s"), line("result: x")]


def test_the_header_is_never_a_closing_line() -> None:
    refused = "\n".join([HEADER, line("the payload is invalid"), line("result: exception")])
    assert closing_worker_lines(refused) == [
        line("the payload is invalid"),
        line("result: exception"),
    ]
    assert closing_worker_lines(HEADER) == []
    assert closing_worker_lines("") == []


def test_output_without_a_final_newline_ends_the_closing_lines_and_most_bounds_them() -> None:
    log = "\n".join([HEADER, "partial" + line("killed"), *(line(str(n)) for n in range(20))])
    assert closing_worker_lines(log, most=3) == [line("17"), line("18"), line("19")]
    assert closing_worker_lines(log)[0] == line("10")
