"""The `infrax` command: subcommands come from the `infrax.commands` entry points.

Each service package contributes its own subcommand (`infrax queue` from queue_server, and so
on), so this package needs to import none of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points

from .parent import watch_parent

__all__ = ["main"]

Command = Callable[[Sequence[str]], int]


def _commands() -> dict[str, EntryPoint]:
    """The commands by name, not yet imported: only the one run is loaded."""
    return {entry.name: entry for entry in entry_points(group="infrax.commands")}


def _usage(commands: dict[str, EntryPoint]) -> str:
    names = "\n".join(f"  {name}" for name in sorted(commands))
    return f"usage: infrax COMMAND [ARGS...]\n\ncommands:\n{names}\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_usage(commands))
        return 0
    entry = commands.get(args[0])
    if entry is None:
        sys.stderr.write(f"infrax: unknown command {args[0]!r}\n\n{_usage(commands)}")
        return 2
    watch_parent(os.environ)  # a child of `infrax up` ends when `up` dies
    command: Command = entry.load()
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
