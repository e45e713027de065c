"""Admin commands of the CLI against the session database (in-process, through typer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.conftest import shared_data


@pytest.fixture
def cli(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return CliRunner()


def run(cli: CliRunner, *args: str, stdin: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_bootstrap_a_city_from_the_command_line(cli: CliRunner) -> None:
    assert "up to date" in run(cli, "migrate")
    city = json.loads(run(cli, "create-jurisdiction", "深圳市", "--level", "city"))
    officer = run(
        cli,
        "create-officer",
        "cli-admin",
        "--jurisdiction-id",
        str(city["id"]),
        "--role",
        "admin",
        stdin="long enough pw\nlong enough pw\n",
    )
    assert '"username": "cli-admin"' in officer
    path = shared_data("boundaries/shenzhen/districts/datav_440305_nanshan.geojson")
    fence = json.loads(
        run(cli, "import-fence", str(path), "南山区", "--crs", "gcj02").splitlines()[-1]
    )
    assert fence["id"] > 0 and fence["warnings"] == []


def test_bad_fence_file_is_refused_with_the_ring_named(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "Polygon", "coordinates": [[[1, 1], [2, 2], [1, 1]]]}))
    result = cli.invoke(app, ["import-fence", str(bad), "bad"])
    assert result.exit_code != 0
    assert "ring 0" in str(result.exception) or "ring 0" in result.output


def test_a_jurisdiction_must_rank_below_its_parent(cli: CliRunner) -> None:
    province = json.loads(run(cli, "create-jurisdiction", "广东省", "--level", "province"))
    parent = ["--parent-id", str(province["id"])]
    district = json.loads(run(cli, "create-jurisdiction", "区", "--level", "district", *parent))
    assert district["path"] == f"{province['path']}{district['id']}/"  # a level skipped
    refused = cli.invoke(app, ["create-jurisdiction", "省", "--level", "province", *parent])
    assert refused.exit_code != 0
    assert "level: a province cannot sit under a province" in str(refused.exception)
