"""The layering of the packages, held by reading every module's imports (ast: nothing is
imported, so no side effect runs). docs/decisions/0030-the-worker-apart-from-the-officer-side.md

geofence and pings  <-  alerts  <-  evaluator        ingest (geofence, pings)
                  \\_______________________________/
                          monitor (the app factory and the CLI wire them together)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"alerts", "evaluator", "geofence", "ingest", "monitor", "pings", "simulators"})
# the modules that put the roles together: the app factory, the CLI, what the CLI runs, and the
# app's shared state (it holds the ingestor beside the hub)
WIRING = frozenset({"monitor.app", "monitor.cli", "monitor.runner", "monitor.context"})
# device tokens are made and hashed one way, whether the registry enrols or ingest checks them
SHARED_WITH_REGISTRY = frozenset({"ingest.credentials"})


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str) -> set[str]:
    """Every module of ours named by an import anywhere in the source (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS}


def modules(package: str) -> Iterator[tuple[str, set[str]]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        name = module_name(path)
        yield name, imports_of(path.read_text(encoding="utf-8"), name)


def packages_of(imported: set[str]) -> set[str]:
    return {name.split(".")[0] for name in imported}


def offences(package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{module} imports {sorted(packages_of(imported) & forbidden)}"
        for module, imported in modules(package)
        if packages_of(imported) & forbidden
    ]


def test_walker_sees_every_kind_of_import() -> None:
    source = """
import geofence.index
from alerts import store
from ..models import Alert

def late() -> None:
    from evaluator.engine import Evaluator
"""
    found = imports_of(source, "alerts.sub.mod")
    assert {"geofence.index", "alerts.store", "alerts.models", "evaluator.engine"} <= found
    assert packages_of(found) == {"geofence", "alerts", "evaluator"}


@pytest.mark.parametrize("package", ["geofence", "pings", "simulators"])
def test_leaf_packages_import_nothing_of_ours(package: str) -> None:
    assert offences(package, set(OURS - {package})) == []


def test_alerts_does_not_import_the_worker_or_the_shell() -> None:
    assert offences("alerts", {"evaluator", "ingest", "monitor"}) == []


def test_evaluator_does_not_import_ingest_or_the_shell() -> None:
    assert offences("evaluator", {"ingest", "monitor"}) == []


def test_ingest_does_not_import_evaluator_or_alerts() -> None:
    assert offences("ingest", {"evaluator", "alerts", "monitor"}) == []


def is_shared(name: str) -> bool:
    return any(name == s or name.startswith(f"{s}.") for s in SHARED_WITH_REGISTRY)


def test_only_the_wiring_puts_the_roles_together() -> None:
    """Outside the wiring, the shell uses alerts (store, bounds) but never the worker, and of
    ingest only the device credentials the registry shares with it."""
    roles = {"evaluator", "ingest"}
    wrong = [
        f"{module} imports {sorted(reached)}"
        for module, imported in modules("monitor")
        if module not in WIRING
        and (reached := {n for n in imported if n.split(".")[0] in roles and not is_shared(n)})
    ]
    assert wrong == []


def test_the_wiring_modules_exist() -> None:
    """A renamed wiring module would silently widen nothing but narrow the check: keep the
    list true."""
    assert {name for name, _ in modules("monitor")} >= WIRING
