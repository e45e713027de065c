"""The duty console's static files, checked without a browser: present, self-contained (the
machine is offline: no CDN, no fonts, no tiles), wired to ids that exist, and valid JavaScript."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.levels import LEVELS, rank

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
    "lang-switch",
    "login-lang",
    "stale-banner",
    "stale-reload",
    "sound-toggle",
    "notify-enable",
    # roster: the Alerts | Persons tabs and the persons/devices list
    "pane-tabs",
    "tab-alerts",
    "tab-roster",
    "roster-pane",
    "roster-filters",
    "roster-list",
    "roster-empty",
    # the person panel and its track playback (person.js, playback.js)
    "person-panel",
    "person-title",
    "person-close",
    "person-body",
    "track-panel",
    "track-form",
    "track-from",
    "track-to",
    "track-slider",
    "track-play",
    "track-speed",
    "track-note",
    "track-readout",
    "track-time",
    "track-accuracy",
    "track-area",
    "track-index",
]

URL = re.compile(r"\b(?:https?|wss?)://[^\s\"'`)]+", re.IGNORECASE)
# import/export statements and import(): not a string that merely ends in " from"
IMPORT = re.compile(
    r"""(?:^\s*(?:import|export)\b[^"';]*?\bfrom\s*|^\s*import\s*|\bimport\(\s*)["']([^"']+)["']""",
    re.MULTILINE,
)


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
    if path.name == "console.js":
        assert len(IMPORT.findall(path.read_text(encoding="utf-8"))) >= 9, "IMPORT finds none?"
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


# ---- strings: one language at a time, each string in both ----------------------------------

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
# an entry of an addStrings table, or of config.js's LABEL_TABLES: key: ["zh-CN", "English"]
ENTRY = re.compile(r"""["']?([\w.-]+)["']?\s*:\s*\[\s*"([^"]*)"\s*,\s*"([^"]*)"\s*\]""")
TABLE = re.compile(r"(\w+):\s*\{")
USED = re.compile(r"""\bt\(\s*["']([\w.-]+)["']""")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def strings() -> dict[str, tuple[str, str]]:
    """Every key the modules register: addStrings entries, and config.js's label tables as
    "<table>.<wire value>"."""
    found: dict[str, tuple[str, str]] = {}
    for path in SCRIPTS:
        text = COMMENT.sub("", path.read_text(encoding="utf-8"))
        start = text.find("LABEL_TABLES = {")
        tables = text[start : text.index("\n};", start)] if start >= 0 else ""
        table = ""
        for match in re.finditer(f"{TABLE.pattern}|{ENTRY.pattern}", tables):
            if match.group(1):
                table = match.group(1)
            else:
                found[f"{table}.{match.group(2)}"] = (match.group(3), match.group(4))
        rest = text.replace(tables, "")
        for call in re.finditer(r"addStrings\((\{.*?\})\);", rest, re.DOTALL):
            for key, zh, en in ENTRY.findall(call.group(1)):
                found[key] = (zh, en)
    return found


def page_keys() -> set[str]:
    attributes = ("data-i18n", "data-i18n-title", "data-i18n-placeholder", "data-i18n-aria-label")
    return {str(a[k]) for _, a in page().elements for k in attributes if a.get(k)}


def test_every_string_used_has_both_languages() -> None:
    known = strings()
    assert "types.out_of_area" in known and "page.title" in known, "the parser lost its tables"
    assert known["types.out_of_area"] == ("越界", "Out of area")
    used = set(page_keys())
    for path in SCRIPTS:
        used |= set(USED.findall(COMMENT.sub("", path.read_text(encoding="utf-8"))))
    assert sorted(used - known.keys()) == []
    for key in used:
        zh, en = known[key]
        assert zh.strip() and en.strip(), key
        if not key.startswith("lang."):  # the switch names the other language in its own
            assert CJK.search(zh) or zh == en, f"{key}: [zh-CN, English] the wrong way round?"
            assert not CJK.search(en), f"{key}: Chinese in the English {en!r}"


def test_every_level_has_a_rung_label_and_the_consoles_rank_order() -> None:
    known = strings()
    for level in LEVELS:
        zh, en = known[f"rungs.{level}"]
        assert CJK.search(zh) and en and not CJK.search(en), level
    for name, table in (("triage.js", "RUNG"), ("alertlist.js", "RUNG_RANK")):
        found = re.search(rf"const {table} = \{{([^}}]*)\}}", (STATIC / name).read_text())
        assert found is not None, f"{name} lost its {table} table"
        ranks = {key: int(n) for key, n in re.findall(r"(\w+): (\d)", found.group(1))}
        assert ranks == {level: rank(level) for level in LEVELS}, name


class Texts(Page):
    """The page's text outside elements that name their string (data-i18n) and <noscript>."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[bool] = []
        self.loose: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        inherited = bool(self.open and self.open[-1])
        if tag not in ("input", "link", "meta", "br"):  # void elements have no end tag
            self.open.append(inherited or tag == "noscript" or "data-i18n" in dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("input", "link", "meta", "br") and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if CJK.search(data) and not (self.open and self.open[-1]):
            self.loose.append(data.strip())


def test_no_text_on_the_page_escapes_translation() -> None:
    texts = Texts()
    texts.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert texts.loose == []
    for _, attrs in page().elements:  # titles and labels name their strings as well
        for attribute in ("title", "aria-label", "placeholder"):
            if attrs.get(attribute):
                assert attrs.get(f"data-i18n-{attribute}"), f"{attribute}={attrs[attribute]!r}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_show_no_chinese_outside_their_string_tables(path: Path) -> None:
    """A string written into a module (not registered) would show in one language only."""
    text = ENTRY.sub("", COMMENT.sub("", path.read_text(encoding="utf-8")))
    assert CJK.findall(text) == []


ZONE_CHECK = """
globalThis.localStorage = { getItem: () => null, setItem() {} };
globalThis.fetch = async () => ({ ok: true, json: async () => ({ time_zone: process.argv[2] }) });
const config = await import("./config.js");
await config.loadConfig();
const inputs = JSON.parse(process.argv[3]);
console.log(JSON.stringify({
  zone: config.timeZone(),
  read: inputs.map((local) => config.zonedToIso(local)),
  shown: inputs.map((local) => config.formatTime(config.zonedToIso(local))),
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
@pytest.mark.parametrize(
    ("zone", "local", "instant", "label"),
    [
        ("Asia/Shanghai", "2026-12-06T08:00", "2026-12-06T00:00:00.000Z", "UTC+8"),
        ("Asia/Shanghai", "2020-02-29T23:59:30", "2020-02-29T15:59:30.000Z", "UTC+8"),
        ("America/New_York", "2026-07-01T12:00", "2026-07-01T16:00:00.000Z", "UTC-4"),
        ("America/New_York", "2026-01-15T08:00", "2026-01-15T13:00:00.000Z", "UTC-5"),
        ("Asia/Kolkata", "2026-12-06T08:00", "2026-12-06T02:30:00.000Z", "UTC+5:30"),
    ],
)
def test_times_are_read_and_shown_on_the_configured_zones_clock(
    zone: str, local: str, instant: str, label: str, tmp_path: Path
) -> None:
    """config.js in node with its own clock in yet another zone: a datetime-local value is read
    in the configured zone (across summer time too), and shown back as it was typed, with the
    zone's offset and the year when it is not this year."""
    for name in ("config.js", "i18n.js"):
        (tmp_path / name).write_text((STATIC / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (tmp_path / "check.mjs").write_text(ZONE_CHECK, encoding="utf-8")
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "check.mjs", zone, json.dumps([local, "", "not a time"])],
        cwd=tmp_path,
        env={"TZ": "Pacific/Auckland", "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["zone"] == zone
    assert answer["read"] == [instant, "", ""]
    this_year = datetime.now(ZoneInfo(zone)).year
    typed = datetime.fromisoformat(local)
    day = typed.strftime("%m-%d" if typed.year == this_year else "%Y-%m-%d")
    assert answer["shown"] == [f"{day} {typed:%H:%M:%S} {label}", "", ""]
