"""Log lines of the daemons: the event name, then the declared fields (STYLE.md 19)."""

from __future__ import annotations

import logging

__all__ = ["FIELDS", "FieldsFormatter", "configure_logging"]

FIELDS = ("task_id", "run_id", "worker_id", "reason")


class FieldsFormatter(logging.Formatter):
    """Event name first, then each declared field the record carries, as `name=value`."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)]
        return f"{text} {' '.join(fields)}" if fields else text


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
