"""The web pages the queue serves (protocol.md §18.2): static files, found beside this module."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PAGES", "STATIC"]

PAGES = Path(__file__).resolve().parent
STATIC = PAGES / "static"
