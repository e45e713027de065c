"""`monitor` command line: up, serve, worker, migrate, simulate, and admin commands."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor import admin, runner
from monitor.settings import Settings

app = typer.Typer(
    help="Electronic-fence monitoring for community corrections.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where embedded servers and demo files live.")
]
Port = Annotated[int | None, typer.Option("--port", help="HTTP port.")]
Host = Annotated[str | None, typer.Option("--host", help="Interface to listen on.")]


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """The long-running roles run on uvloop (what uvicorn would pick), plain asyncio elsewhere."""
    try:
        import uvloop
    except ImportError:  # uvloop has no Windows build
        asyncio.run(main)
        return
    uvloop.run(main)


def settings_from(
    data_dir: Path | None = None, port: int | None = None, host: str | None = None, **extra: object
) -> Settings:
    overrides = {
        k: v
        for k, v in {"data_dir": data_dir, "port": port, "host": host, **extra}.items()
        if v is not None
    }
    return Settings(**overrides)  # type: ignore[arg-type]


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load Shenzhen, officers and a simulated fleet.")
    ] = False,
    data_dir: DataDir = None,
    port: Port = None,
    host: Host = None,
    persons: Annotated[int, typer.Option(help="Demo fleet size.")] = 200,
) -> None:
    """Run everything in one process; embedded PostgreSQL and Redis when no URLs are set."""
    settings = settings_from(data_dir, port, host, run_workers=True)
    run_fast(runner.run_up(settings, demo=demo, demo_persons=persons))


@app.command()
def serve(
    data_dir: DataDir = None,
    port: Port = None,
    host: Host = None,
    workers: Annotated[int, typer.Option(help="HTTP processes sharing the port.")] = 1,
) -> None:
    """API, ingest and WebSocket hub only (evaluators run as `monitor worker`)."""
    settings = settings_from(data_dir, port, host, run_workers=False)
    if workers > 1:
        runner.serve_processes(settings, workers)
        return
    run_fast(runner.run_serve(settings))


@app.command()
def worker() -> None:
    """Evaluators and the outbox relay, no HTTP."""
    run_fast(runner.run_worker(settings_from()))


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    applied = asyncio.run(runner.run_migrate(settings_from()))
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


@app.command()
def simulate(
    url: Annotated[str, typer.Option(help="Base URL of the service.")] = "http://127.0.0.1:8080",
    credentials: Annotated[Path, typer.Option(help="demo-credentials.json")] = Path(
        "monitor-data/demo-credentials.json"
    ),
    interval: Annotated[float, typer.Option(help="Seconds between pings per device.")] = 5.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Drive a running service with the simulated fleet from a credentials file."""
    sent, failed = asyncio.run(runner.run_simulate(url, credentials, interval, duration))
    typer.echo(f"sent {sent} pings, {failed} failed")


@app.command("create-jurisdiction")
def create_jurisdiction(
    name: str,
    level: Annotated[str, typer.Option(help="ministry | province | city | district | street")],
    parent_id: Annotated[int | None, typer.Option(help="Parent jurisdiction id.")] = None,
) -> None:
    """Create a node of the ministry → province → city → district → street tree; a node
    ranks below its parent (levels between may be skipped)."""
    typer.echo(
        json.dumps(asyncio.run(admin.create_jurisdiction(settings_from(), name, level, parent_id)))
    )


@app.command("create-officer")
def create_officer(
    username: str,
    jurisdiction_id: Annotated[int, typer.Option(help="Jurisdiction id.")],
    role: Annotated[str, typer.Option(help="admin | supervisor | officer | oversight")] = "officer",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create an officer account."""
    officer_id = asyncio.run(
        admin.create_officer(settings_from(), username, password, role, jurisdiction_id)
    )
    typer.echo(json.dumps({"id": officer_id, "username": username}))


@app.command("enroll-device")
def enroll_device(
    person_id: int,
    kind: Annotated[str, typer.Option(help="phone | wrist | ankle")],
    device_id: Annotated[
        str | None, typer.Option(help="Vendor identifier (generated if absent).")
    ] = None,
) -> None:
    """Enrol a device; prints its token once."""
    typer.echo(
        json.dumps(asyncio.run(admin.enroll_device(settings_from(), person_id, kind, device_id)))
    )


@app.command("import-fence")
def import_fence(
    path: Path,
    name: str,
    role: Annotated[str, typer.Option(help="allowed | exclusion")] = "allowed",
    crs: Annotated[str, typer.Option(help="wgs84 | gcj02 | bd09")] = "wgs84",
    jurisdiction_id: Annotated[int | None, typer.Option(help="Owning jurisdiction.")] = None,
) -> None:
    """Import a fence from a GeoJSON file (geometry, Feature or FeatureCollection: the union)."""
    result = asyncio.run(
        admin.import_fence(settings_from(), path, name, role, crs, jurisdiction_id)
    )
    typer.echo(json.dumps(result, ensure_ascii=False))


audit = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit, name="audit")


@audit.command("verify")
def audit_verify(
    anchor_file: Annotated[
        Path | None, typer.Option(help="Anchors file (default: the settings').")
    ] = None,
) -> None:
    """Recompute the whole chain and hold it to every anchor; exit 1 naming the first bad row."""
    verdict = asyncio.run(admin.verify_audit(settings_from(audit_anchor_file=anchor_file)))
    if verdict.broken is not None:
        typer.echo(
            f"audit chain broken at row {verdict.broken.id}: {verdict.broken.reason}", err=True
        )
        raise typer.Exit(1)
    typer.echo(
        f"audit chain intact: {verdict.rows} rows through id {verdict.head_id}, "
        f"{verdict.anchors} anchors match"
    )


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app()
