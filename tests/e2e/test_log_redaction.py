"""No token reaches the server's log: officer tokens in ?token=, device tokens in /osmand/
paths (issue 18, item 9). The server logs all it can here: access log on, level DEBUG."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from monitor.redact import install_log_redaction, redact
from tests.e2e.conftest import Officer, running, settings_for
from tests.e2e.test_slice import enrol

LOGGERS = ("uvicorn.error", "uvicorn.access")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Lines()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_neither_officer_nor_device_tokens_are_logged(
    officer: Officer, database_url: str, redis_url: str, log_lines: list[str]
) -> None:
    fake_device_token = secrets.token_urlsafe(32)
    settings = settings_for(database_url, redis_url).model_copy(update={"run_workers": False})
    # this test's handler rather than uvicorn's stderr ones, at the most it can log
    verbose = running(settings, log_config=None, log_level="debug", access_log=True)
    async with verbose as server:
        host = server.base_url.removeprefix("http://")
        async with httpx.AsyncClient(base_url=f"http://{host}") as client:
            device = await enrol(client, officer, f"L-{secrets.token_hex(4)}")
            for token in (device.token, fake_device_token):
                query: dict[str, str | float] = {"id": device.device_id, "lat": 22.5, "lon": 114}
                query["timestamp"] = int(time.time())
                await client.get(f"/osmand/{token}", params=query)
        async with websockets.connect(f"ws://{host}/v1/stream?token={officer.token}&since=0"):
            pass
        with pytest.raises(websockets.InvalidStatus):  # refused: logged all the same
            await websockets.connect(f"ws://{host}/v1/stream?since=0&token=x{officer.token}")
    text = "\n".join(log_lines)
    assert "/v1/stream?token=[redacted]&since=0" in text  # the lines are there, redacted
    assert "/osmand/[redacted]" in text
    for secret in (officer.token, device.token, fake_device_token):
        assert secret not in text


def test_redaction_keeps_the_rest_of_the_line() -> None:
    line = '1.2.3.4 - "GET /osmand/abc-_1?id=7&token=s3 HTTP/1.1" 200; /v1/stream?Token=x#f'
    assert redact(line) == (
        '1.2.3.4 - "GET /osmand/[redacted]?id=7&token=[redacted] HTTP/1.1" 200; '
        "/v1/stream?Token=[redacted]#f"
    )


def test_a_client_request_logged_with_a_url_object_is_redacted() -> None:
    install_log_redaction()
    logger = logging.getLogger("httpx")
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        url = httpx.URL("http://h/osmand/s3cret?id=1")
        logger.info('HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert handler.lines == ['HTTP Request: POST http://h/osmand/[redacted]?id=1 "HTTP/1.1 200 OK"']
