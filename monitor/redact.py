"""Log redaction: officer tokens (WebSocket ?token=) and device tokens (/osmand/<token>)
never reach a log line, whichever launcher configured uvicorn's logging."""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
SECRETS = (
    # GET /v1/stream?token=<officer token>: the browser's WebSocket cannot send a header
    re.compile(r"(?<=[?&]token=)[^&#\s\"']+", re.IGNORECASE),
    # OsmAnd apps have no field for a secret, so the device token is the path's last segment
    re.compile(r"(?<=/osmand/)[^/?#\s\"']+"),
)
# every line uvicorn and the websockets library write about a request goes through the first
# two; httpx logs each request's URL at INFO (the demo fleet and simulators are its clients)
LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")


def redact(text: str) -> str:
    for pattern in SECRETS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Redacts the message and each argument in place, keeping the arguments' shape:
    uvicorn's access formatter unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_value(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_value(v) for k, v in record.args.items()}
        return True


def redact_value(value: object) -> object:
    """A URL object (httpx's) is formatted with %s like a string, so it may become one."""
    if isinstance(value, int | float | bool | None):
        return value
    text = str(value)
    redacted = redact(text)
    return value if redacted == text else redacted


def install_log_redaction() -> None:
    """On the loggers themselves, not on handlers: a filter there survives the dictConfig
    that uvicorn (or an operator's own log config) applies, in every worker process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
