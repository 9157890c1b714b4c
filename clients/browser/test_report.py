"""`harness run --report FILE.html` rendered by a real browser: Debian's `chromium`, unmodified,
headless. The DOM it builds must hold every scenario, one row per provisioning log entry, the
cycles' SVG, the failing expectations and the exchanges behind them; its screenshot must be a PNG.

The harness binary is the one `cargo test` built (`$CARGO_TARGET_DIR` or `target/`, profile
`$MOCKS_PROFILE` or `debug`). A missing `chromium` fails the test: it is never skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PROFILE = os.environ.get("MOCKS_PROFILE", "debug")
LIBRARY = ROOT / "scenarios" / "library"
SEED = LIBRARY / "00_seed_story.toml"
OTHERS = [LIBRARY / "10_disabled_user.toml", LIBRARY / "13_group_renamed.toml"]
SEED_NAME = "seed story: Administrator is refused, SRE succeeds"
WRONG_NAME = "seed story, expected wrong on purpose"

# The seed story's provisioning logs, oldest first, as (cycle, identity, action, status): what the
# report's rows must say (entra-provisioning.md §6; the story is the README's).
SEED_ROWS = [
    ("1", "annie@contoso.onmicrosoft.com", "create", "success"),
    ("1", "bob@contoso.onmicrosoft.com", "create", "success"),
    ("1", "Administrator", "create", "failure"),
    ("1", "SRE", "create", "success"),
    ("1", "SRE", "update", "success"),
    ("2", "Administrator", "create", "failure"),
    ("3", "bob@contoso.onmicrosoft.com", "other", "skipped"),
    ("3", "Administrator", "create", "failure"),
    ("3", "Platform", "create", "success"),
    ("3", "Platform", "update", "success"),
]


def harness_binary() -> Path:
    path = TARGET / PROFILE / "harness"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it first (cargo build -p harness)")
    return path


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is missing: apt-get install -y chromium (Debian's)")
    return path


def wrong_seed_story(folder: Path) -> Path:
    """The seed story with two expectations wrong on purpose: carol in AWS, SRE failing."""
    text = SEED.read_text()
    replacements = [
        ('name = "seed story: Administrator is refused, SRE succeeds"', f'name = "{WRONG_NAME}"'),
        (
            'aws_users = ["annie@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]',
            'aws_users = ["annie@contoso.onmicrosoft.com", "carol@contoso.onmicrosoft.com"]',
        ),
        (
            '{ identity = "SRE", action = "create", status = "success" }',
            '{ identity = "SRE", action = "create", status = "failure" }',
        ),
    ]
    for old, new in replacements:
        assert text.count(old) == 1, f"the seed story no longer has {old!r}"
        text = text.replace(old, new)
    path = folder / "wrong.toml"
    path.write_text(text)
    return path


def run_report(out: Path, scenarios: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(harness_binary()), "run", "--report", str(out), "--jobs", "2", *map(str, scenarios)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def browse(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Headless chromium with a profile of its own, so runs at once do not meet."""
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


class Elements(HTMLParser):
    """Every element's tag and attributes, with the `data-scenario` of the section it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.section: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "section" and "data-scenario" in attributes:
            self.section = attributes["data-scenario"]
        self.elements.append((tag, attributes, self.section))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, attribute: str, section: str | None = None) -> list[dict[str, str]]:
        return [
            attrs
            for t, attrs, s in self.elements
            if t == tag and attribute in attrs and (section is None or s == section)
        ]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    out = folder / "report.html"
    started = time.monotonic()
    run = run_report(out, [SEED, *OTHERS, wrong_seed_story(folder)])
    print(f"harness run --report: {time.monotonic() - started:.2f} s")
    # One scenario fails on purpose: exit code 1, and the report is written all the same.
    assert run.returncode == 1, run.stdout + run.stderr
    assert out.is_file() and out.stat().st_size > 0
    return out


@pytest.fixture(scope="module")
def dom(report: Path, tmp_path_factory: pytest.TempPathFactory) -> Elements:
    started = time.monotonic()
    dumped = browse("--dump-dom", report.as_uri(), profile=tmp_path_factory.mktemp("profile"))
    print(f"chromium --dump-dom: {time.monotonic() - started:.2f} s")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "<svg" in dumped.stdout, dumped.stdout[:2000]
    parsed = Elements()
    parsed.feed(dumped.stdout)
    return parsed


def test_the_dom_names_every_scenario(dom: Elements) -> None:
    names = [attrs["data-scenario"] for attrs in dom.find("section", "data-scenario")]
    assert SEED_NAME in names and WRONG_NAME in names
    assert len(names) == 4, names
    text = "".join(dom.text)
    assert "1 failed" in text and "3 passed" in text


def test_the_dom_has_one_row_per_log_entry(dom: Elements) -> None:
    rows = dom.find("tr", "data-identity", SEED_NAME)
    assert [(r["data-cycle"], r["data-identity"], r["data-action"], r["data-status"]) for r in rows] == SEED_ROWS
    # Each scenario: as many rows as its log entries, and as many as its cycles' bars count.
    for section in dom.find("section", "data-scenario"):
        name = section["data-scenario"]
        rows = dom.find("tr", "data-identity", name)
        assert len(rows) == int(section["data-log-entries"]), name
        bars = dom.find("g", "data-entries", name)
        assert sum(int(bar["data-entries"]) for bar in bars) == len(rows), name


def test_the_dom_has_the_cycles_svg(dom: Elements) -> None:
    svgs = [attrs for tag, attrs, section in dom.elements if tag == "svg" and section == SEED_NAME]
    assert len(svgs) == 1
    assert [bar["data-entries"] for bar in dom.find("g", "data-cycle", SEED_NAME)] == ["5", "1", "4"]
    # Bars stacked per status: each cycle's rects, green for success, red for failure.
    rects = [attrs for tag, attrs, section in dom.elements if tag == "rect" and section == SEED_NAME]
    assert {"#107c10", "#a4262c", "#8a8886"} <= {r.get("fill") for r in rects}


def test_the_dom_shows_aws_after_each_advance(dom: Elements) -> None:
    snapshots = dom.find("div", "data-users", SEED_NAME)
    assert [(s["data-users"], s["data-groups"]) for s in snapshots] == [("2", "1"), ("2", "2")]


def test_a_failing_scenario_shows_expected_and_actual_and_its_exchanges(dom: Elements) -> None:
    misses = dom.find("tr", "data-what", WRONG_NAME)
    assert [m["data-what"] for m in misses] == ["aws_users", "log[1]"]
    assert dom.find("tr", "data-what", SEED_NAME) == []
    exchanges = [attrs for tag, attrs, section in dom.elements if tag == "details" and section == WRONG_NAME]
    assert any("exchanges" in attrs.get("class", "") for attrs in exchanges)
    text = "".join(dom.text)
    assert "carol@contoso.onmicrosoft.com" in text


def test_the_file_is_self_contained_and_redacted(report: Path) -> None:
    html = report.read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\(", html)
    # Every bearer token the journal shows is redacted.
    assert "Bearer &lt;redacted&gt;" in html
    assert not re.search(r"Bearer (?!&lt;redacted&gt;)", html)


def test_the_same_scenarios_give_the_same_report_but_for_durations(report: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.html"
    run = run_report(again, [SEED, *OTHERS, wrong_seed_story(tmp_path)])
    assert run.returncode == 1, run.stderr
    before = lambda path: path.read_text().split('<footer id="durations">')[0]  # noqa: E731
    # The wrong scenario's file path is the only other difference: it lives in each temp dir.
    first = before(report).replace(str(report.parent), "TMP")
    second = before(again).replace(str(tmp_path), "TMP")
    assert first == second


def test_chromium_takes_a_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    started = time.monotonic()
    taken = browse("--screenshot=" + str(shot), "--window-size=1280,2000", report.as_uri(), profile=tmp_path / "p")
    print(f"chromium --screenshot: {time.monotonic() - started:.2f} s")
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 20_000, "a blank page compresses to a few kilobytes"
    keep = os.environ.get("REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
