"""Logs with the privacy guard applied to every message: JSON lines for machines, readable lines for people.

Anything passed in ``extra=`` becomes a field. String fields and the message are redacted, so even
a careless log call cannot write an NHS number or an email address to disk. At a terminal (or with
``LOG_FORMAT=text``) each record is one short line a person can read; otherwise (or with
``LOG_FORMAT=json``) one JSON object per line, for log collectors.
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


def _fields(record: logging.LogRecord) -> dict:
    """The ``extra=`` fields of a record, redacted."""
    return {key: scan(value).redacted if isinstance(value, str) else value for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")}


class HumanFormatter(logging.Formatter):
    """``10:42:07  Slack not enabled: ...`` with the level only when it is not INFO, and fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).astimezone().strftime("%H:%M:%S")  # local time
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        line = f"{when}  {level}{scan(record.getMessage()).redacted}" + (f" ({fields})" if fields else "")
        if record.exc_info:
            line += "\n" + scan(self.formatException(record.exc_info)).redacted
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scan(record.getMessage()).redacted,
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = scan(self.formatException(record.exc_info)).redacted
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream=None, log_format: str = "auto") -> None:
    """Log to ``stream`` (stderr): readable lines for a person at a terminal, JSON lines otherwise."""
    stream = stream or sys.stderr
    readable = log_format == "text" or (log_format == "auto" and _is_terminal(stream))
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HumanFormatter() if readable else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that log SQL parameters or request bodies (message text) at DEBUG or INFO stay at WARNING,
    # whatever LOG_LEVEL is: the guard redacts what it finds, but a log is no place for message content.
    for noisy in PAYLOAD_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or already closed
        return False
