"""The scheduler's endpoint handlers; importing this package registers them."""

from . import github, health, hooks, triggers  # noqa: F401
