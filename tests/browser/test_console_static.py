"""The duty console's static files, checked without a browser: present, self-contained (the
machine is offline: no CDN, no fonts, no tiles), wired to ids that exist, and valid JavaScript."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "monitor" / "static"
REQUIRED = ["index.html", "console.js", "console.css"]
SCRIPTS = sorted(STATIC.glob("*.js"))
TEXT_FILES = sorted([*STATIC.glob("*.js"), *STATIC.glob("*.html"), *STATIC.glob("*.css")])

# what a browser test may rely on (see the console's hand-over notes)
HOOKS = [
    "login",
    "login-form",
    "login-error",
    "console",
    "officer",
    "person-count",
    "outside-count",
    "open-count",
    "conn-status",
    "logout",
    "toast",
    "map",
    "legend",
    "map-fit",
    "alert-empty",
    "alert-list",
    "alert-filters",
    "resolve-dialog",
    "resolve-form",
    "resolve-alert-id",
    "resolve-confirm",
    # roster: the Alerts | Persons tabs and the persons/devices list
    "pane-tabs",
    "tab-alerts",
    "tab-roster",
    "roster-pane",
    "roster-filters",
    "roster-list",
    "roster-empty",
]

URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'`)]+", re.IGNORECASE)
IMPORT = re.compile(r"""\b(?:import|from)\s*\(?\s*["']([^"']+)["']""")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def ids(self) -> dict[str, tuple[str, dict[str, str | None]]]:
        return {str(a["id"]): (t, a) for t, a in self.elements if a.get("id")}


def page() -> Page:
    parsed = Page()
    parsed.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return parsed


@pytest.mark.parametrize("name", REQUIRED)
def test_the_console_files_exist(name: str) -> None:
    path = STATIC / name
    assert path.is_file(), f"missing {path}"
    assert path.stat().st_size > 200, f"{path} is (nearly) empty"


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: p.name)
def test_no_absolute_urls_to_any_host(path: Path) -> None:
    """Offline machine, same-origin API: every URL is relative; the stream URL is built from
    location.host at run time."""
    text = path.read_text(encoding="utf-8")
    assert URL.findall(text) == [], f"{path.name} names absolute URLs"
    assert not re.search(r"""["'(]//[A-Za-z0-9]""", text), f"{path.name} has protocol-relative URLs"
    assert "@import" not in text and "@font-face" not in text


def test_the_page_loads_only_local_files() -> None:
    for tag, attrs in page().elements:
        for key in ("src", "href"):
            ref = attrs.get(key)
            if ref is None or ref.startswith("data:") or (tag == "a" and ref.startswith("#")):
                continue
            assert "//" not in ref and ":" not in ref, f"<{tag} {key}={ref!r}> is not local"
            assert (STATIC / ref).is_file(), f"<{tag} {key}={ref!r}> does not exist"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_module_imports_are_local_files(path: Path) -> None:
    for spec in IMPORT.findall(path.read_text(encoding="utf-8")):
        assert spec.startswith("./"), f"{path.name} imports {spec!r}"
        assert (STATIC / spec[2:]).is_file(), f"{path.name} imports missing {spec!r}"


def test_every_id_the_scripts_use_is_in_the_page() -> None:
    ids = page().ids()
    lookup = re.compile(r"""\$\(\s*["']([\w-]+)["']\s*\)""")
    used = set()
    for path in SCRIPTS:
        used |= set(lookup.findall(path.read_text(encoding="utf-8")))
    assert used, "console.js looks up no elements?"
    assert sorted(used - ids.keys()) == []


def test_the_hooks_a_browser_test_uses_are_stable() -> None:
    ids = page().ids()
    assert sorted(set(HOOKS) - ids.keys()) == []
    for counter in ("person-count", "outside-count", "open-count"):
        assert ids[counter][1].get("data-count") == "0"
    assert ids["conn-status"][1].get("data-state") == "connecting"
    names = {a.get("name") for t, a in page().elements if t in ("input", "select", "textarea")}
    assert {"username", "password", "disposition", "note"} <= names
    script = "\n".join(path.read_text(encoding="utf-8") for path in SCRIPTS)
    for hook in ("dataset.count", "dataset.ready", "alertId", "personId", "dataset.state", '"ack"'):
        assert hook in script, f"the console's scripts no longer set {hook}"
    assert '"resolve"' in script and '"flash"' in script


def test_the_dispositions_offered_are_the_servers() -> None:
    offered, select = set(), None  # the options of the disposition select, not the filters'
    for tag, attrs in page().elements:
        select = attrs.get("name") if tag == "select" else select
        if tag == "option" and select == "disposition" and attrs.get("value"):
            offered.add(attrs["value"])
    assert offered == {
        "false_alarm",
        "verbal_reminder",
        "admonition",
        "warning",
        "public_security_referral",
        "revocation_referral",
    }


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse(path: Path, tmp_path: Path) -> None:
    """`node --check` as an ES module (.mjs), whatever this node's default for .js is."""
    node = shutil.which("node")
    assert node is not None
    copy = tmp_path / f"{path.stem}.mjs"
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [node, "--check", str(copy)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


LEAFLET = STATIC / "vendor" / "leaflet"


def test_vendored_leaflet_is_present_licensed_and_loaded_before_the_modules() -> None:
    """The map library ships with the package (offline, no CDN): its files, its licence, a note
    of where they came from, and the page loads the UMD build before map.js reads window.L."""
    assert 'version="1.9.4"' in (LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    assert (LEAFLET / "LICENSE").read_text(encoding="utf-8").startswith("BSD 2-Clause License")
    assert "leaflet@1.9.4" in (LEAFLET / "README.md").read_text(encoding="utf-8")
    css = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    for image in re.findall(r"url\((images/[\w.-]+)\)", css):
        assert (LEAFLET / image).is_file(), image
    scripts = [a.get("src") for t, a in page().elements if t == "script"]
    assert scripts == ["vendor/leaflet/leaflet.js", "console.js"]
    sheets = [a.get("href") for t, a in page().elements if a.get("rel") == "stylesheet"]
    assert sheets[0] == "vendor/leaflet/leaflet.css", "the console's own rules come after"
    assert "window.L" in (STATIC / "map.js").read_text(encoding="utf-8")


def test_package_data_ships_every_static_file() -> None:
    """A wheel (the Dockerfile installs one) carries what pyproject's package-data globs match,
    relative to the package, recursively as setuptools expands them."""
    with (STATIC.parents[1] / "pyproject.toml").open("rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["monitor"]
    package = STATIC.parent
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    every = {p for p in STATIC.rglob("*") if p.is_file()}
    assert every - shipped == set()
    assert LEAFLET / "images" / "layers.png" in shipped
