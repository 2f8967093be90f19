"""AMQP topic routing-key patterns, as RabbitMQ matches them (protocol.md, "Event stream").

A routing key is words joined by `.`. In a pattern, the word `*` matches exactly one word and
the word `#` matches any number of words, none included; any other word matches itself. `*`
and `#` are special only as whole words. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_PATTERN_LENGTH", "Pattern", "pattern_problem"]

MAX_PATTERN_LENGTH = 255  # AMQP's limit on a binding key (a short string)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a routing-key pattern, or None when it can."""
    if not pattern:
        return "a routing-key pattern must not be empty (use `#` for every key)"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"a routing-key pattern has at most {MAX_PATTERN_LENGTH} characters"
    if not pattern.isascii() or not pattern.isprintable():
        return "a routing-key pattern holds printable ASCII only"
    return None


@dataclass(frozen=True)
class Pattern:
    """A compiled routing-key pattern; ``matches`` walks it as a small NFA over the words."""

    text: str
    words: tuple[str, ...]

    @classmethod
    def compile(cls, text: str) -> Pattern:
        problem = pattern_problem(text)
        if problem is not None:
            raise ValueError(problem)
        return cls(text, tuple(text.split(".")))

    @property
    def literal_head(self) -> tuple[str, str] | None:
        """The first two words when both are literal: the key an index can file it under."""
        if len(self.words) >= 2 and not {self.words[0], self.words[1]} & {"*", "#"}:
            return self.words[0], self.words[1]
        return None

    def matches(self, key_words: tuple[str, ...] | list[str]) -> bool:
        """Whether a routing key, already split on `.`, matches this pattern."""
        size = len(key_words)
        positions = {0}
        for word in self.words:
            if word == "#":
                positions = set(range(min(positions), size + 1))
            elif word == "*":
                positions = {p + 1 for p in positions if p < size}
            else:
                positions = {p + 1 for p in positions if p < size and key_words[p] == word}
            if not positions:
                return False
        return size in positions

    def matches_key(self, key: str) -> bool:
        return self.matches(key.split("."))
