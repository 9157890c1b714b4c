"""Real SCIM conformance tools against mock-scim, unmodified, as a CI gate.

`scim2 test` (scim2-cli) and `scim-sanity probe` in `--strict` and `--compat` mode each run against a
fresh mock over HTTPS. Every check a tool fails must be listed in `../scim_expected_deviations.toml`
with the AWS behaviour it reflects, and every listed one must still fail, for the listed reasons only:
a new failure is a mock bug until shown otherwise, and a listed one that passes means the mock no
longer does what AWS does (or the list is stale).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ScimMock, start_scim_mock

DEVIATIONS = Path(__file__).resolve().parents[1] / "scim_expected_deviations.toml"
REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "aws-scim.md"
# The tools come from the venv running pytest.
BIN = Path(sys.executable).parent
TOOL_TIMEOUT = 300

# A check, as the tool names it, and for scim2 the resource type it ran on.
Key = tuple[str, str | None]


@pytest.fixture(scope="module")
def scim() -> Iterator[ScimMock]:
    # Over HTTPS, as users run them: scim2 trusts the mock's CA through SSL_CERT_FILE (httpx has no
    # flag for it), scim-sanity through --ca-bundle.
    mock = start_scim_mock(tls=True)
    yield mock
    mock.stop()


def tool_env(scim: ScimMock, **extra: str) -> dict[str, str]:
    return {**os.environ, **scim.client_env(), **extra}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    executable = BIN / command[0]
    if not executable.is_file():
        pytest.fail(f"{executable} is missing: install the pinned tools (clients/python/requirements.txt)")
    return subprocess.run(
        [str(executable), *command[1:]], env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
    )


# --- scim2 test ---------------------------------------------------------------------------------

# `{STATUS} {title}` heads every result `scim2 test` prints; the reason follows, indented, and may
# run over several lines (scim2_cli/test.py). Anything but SUCCESS fails the run, as the tool counts.
SCIM2_RESULT = re.compile(r"^(SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) (\S+)$")
# The first check scim2_tester runs for each resource type (checkers/resource.py), in the order of
# `/ResourceTypes`; its output does not name the resource type, so the blocks tell it.
SCIM2_FIRST_RESOURCE_CHECK = "object_creation"


def resource_type_names(scim: ScimMock) -> list[str]:
    with scim.http() as http:
        answer = http.get(f"{scim.endpoint}ResourceTypes", headers={"Authorization": f"Bearer {scim.token}"})
    answer.raise_for_status()
    return [r["name"] for r in answer.json()["Resources"]]


def scim2_failures(scim: ScimMock) -> dict[Key, list[str]]:
    names = resource_type_names(scim)
    # The token travels in the environment, not on a command line other users can read.
    env = tool_env(scim, SCIM_CLI_URL=scim.endpoint, SCIM_CLI_HEADERS=f"Authorization: Bearer {scim.token}")
    done = run(["scim2", "test"], env)
    results: list[tuple[str, str, str | None, list[str]]] = []
    blocks = 0
    for line in done.stdout.splitlines():
        if match := SCIM2_RESULT.match(line):
            status, title = match.groups()
            if title == SCIM2_FIRST_RESOURCE_CHECK:
                blocks += 1
            resource_type = names[blocks - 1] if 0 < blocks <= len(names) else None
            results.append((status, title, resource_type, []))
        elif results:
            results[-1][3].append(line.strip())
    assert results, f"scim2 test printed no results (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert blocks == len(names), f"{blocks} resource type blocks for {names} in:\n{done.stdout}"
    failures: dict[Key, list[str]] = {}
    for status, title, resource_type, reason in results:
        if status != "SUCCESS":
            failures.setdefault((title, resource_type), []).append(f"{status}: {' '.join(reason)}")
    assert (done.returncode != 0) == bool(failures), f"exit {done.returncode} with failures {sorted(failures)}"
    return failures


# --- scim-sanity probe --------------------------------------------------------------------------

# Ids in result names (the cleanup's `DELETE /Users/<id>`) become `{id}`, as the lifecycle names them.
ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def scim_sanity_failures(scim: ScimMock, mode: str) -> dict[Key, list[str]]:
    command = ["scim-sanity", "probe", scim.endpoint, "--token", scim.token, mode]
    command += ["--i-accept-side-effects", "--json-output"]
    if scim.ca is not None:
        command += ["--ca-bundle", str(scim.ca)]
    done = run(command, tool_env(scim))
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"scim-sanity printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert report["mode"] == mode.removeprefix("--"), report["mode"]
    failures: dict[Key, list[str]] = {}
    for result in report["results"]:
        # Only FAIL and ERROR fail the probe; WARN is how compat mode reports a tolerated deviation.
        if result["status"] in ("fail", "error"):
            # The probe joins a check's problems with "; " (probe/tests.py `_errors_str`).
            problems = result.get("message", "").split("; ")
            failures.setdefault((ID.sub("{id}", result["name"]), None), []).extend(problems)
    assert (done.returncode != 0) == bool(failures), f"exit {done.returncode} with failures {sorted(failures)}"
    return failures


# --- the expected deviations --------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    # The table of the deviations file that lists its failures.
    table: str
    failures: Callable[[ScimMock], dict[Key, list[str]]]


TOOLS = [
    Tool("scim2 test", "scim2_test", scim2_failures),
    Tool("scim-sanity probe --strict", "scim_sanity_strict", lambda scim: scim_sanity_failures(scim, "--strict")),
    Tool("scim-sanity probe --compat", "scim_sanity_compat", lambda scim: scim_sanity_failures(scim, "--compat")),
]

ENTRY_KEYS = {"check", "resource_type", "reasons", "aws", "source"}
SOURCE = re.compile(r"^aws-scim\.md §\d+(\.\d+)?(, §\d+(\.\d+)?)*$")


def load_deviations() -> dict[str, dict[Key, dict]]:
    """The deviations file by table and check, after checking every entry's shape."""
    document = tomllib.loads(DEVIATIONS.read_text(encoding="utf-8"))
    unknown = set(document) - {tool.table for tool in TOOLS}
    assert not unknown, f"{DEVIATIONS.name}: unknown tables {sorted(unknown)}"
    sections = set(re.findall(r"^#+ (\d+(?:\.\d+)?)[. ]", REFERENCE.read_text(encoding="utf-8"), re.M))
    tables: dict[str, dict[Key, dict]] = {}
    for tool in TOOLS:
        entries: dict[Key, dict] = {}
        for entry in document.get(tool.table, []):
            where = f"{DEVIATIONS.name} [[{tool.table}]] {entry.get('check')!r}"
            assert set(entry) <= ENTRY_KEYS, f"{where}: unknown keys {sorted(set(entry) - ENTRY_KEYS)}"
            missing = {"check", "reasons", "aws", "source"} - set(entry)
            assert not missing, f"{where}: missing {sorted(missing)}"
            assert entry["reasons"] and all(isinstance(r, str) and r for r in entry["reasons"]), where
            source = entry["source"]
            assert SOURCE.match(source), f"{where}: source must read 'aws-scim.md §N[.M]', not {source!r}"
            for section in re.findall(r"§(\d+(?:\.\d+)?)", entry["source"]):
                assert section in sections, f"{where}: aws-scim.md has no §{section}"
            key = (entry["check"], entry.get("resource_type"))
            assert key not in entries, f"{where}: listed twice"
            entries[key] = entry
        tables[tool.table] = entries
    return tables


def name(key: Key) -> str:
    check, resource_type = key
    return f"{check!r}" + (f" on {resource_type}" if resource_type else "")


def compare(tool: Tool, observed: dict[Key, list[str]], listed: dict[Key, dict]) -> list[str]:
    """Every disagreement between what the tool failed and what the file lists, one line each."""
    problems = []
    where = f"[[{tool.table}]] in {DEVIATIONS.name}"
    for key, reasons in sorted(observed.items(), key=str):
        entry = listed.get(key)
        if entry is None:
            problems.append(f"{tool.name}: check {name(key)} fails and is not in {where}: {reasons}")
            continue
        for reason in reasons:
            if not any(expected in reason for expected in entry["reasons"]):
                problems.append(f"{tool.name}: check {name(key)} fails for a reason not listed in {where}: {reason!r}")
        for expected in entry["reasons"]:
            if not any(expected in reason for reason in reasons):
                problems.append(
                    f"{tool.name}: check {name(key)} no longer fails for {expected!r}: remove that reason from {where}"
                )
    for key in sorted(set(listed) - set(observed), key=str):
        problems.append(f"{tool.name}: check {name(key)} passes now: remove it from {where}")
    return problems


def test_the_deviations_file_is_well_formed() -> None:
    tables = load_deviations()
    assert all(tables.values()), f"every tool and mode lists its deviations: {sorted(tables)}"


@pytest.mark.parametrize("tool", TOOLS, ids=[tool.table for tool in TOOLS])
def test_each_tool_fails_only_where_mock_scim_does_as_aws_does(scim: ScimMock, tool: Tool) -> None:
    listed = load_deviations()[tool.table]
    scim.reset()
    problems = compare(tool, tool.failures(scim), listed)
    assert not problems, "\n".join(problems)
