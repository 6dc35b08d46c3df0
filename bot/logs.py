"""JSON structured logs, one object per line, with the privacy guard applied to every message.

Anything passed in ``extra=`` becomes a field. String fields and the message are redacted, so even
a careless log call cannot write an NHS number or an email address to disk.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.privacy import scan

PAYLOAD_LOGGERS = ("aiohttp.access", "aiohttp.client", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "alembic",
                   "aiosqlite", "asyncpg", "slack_sdk", "slack_bolt", "botbuilder", "botframework", "msrest", "msal",
                   "urllib3", "requests_oauthlib")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scan(record.getMessage()).redacted,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scan(value).redacted if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = scan(self.formatException(record.exc_info)).redacted
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log SQL parameters or request bodies (message text) at DEBUG or INFO stay at WARNING,
    # whatever LOG_LEVEL is: the guard redacts what it finds, but a log is no place for message content.
    for noisy in PAYLOAD_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
