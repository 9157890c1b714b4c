"""The example sync tool built on Microsoft's own libraries (examples/engines/graph_sdk_sync.py:
msgraph-sdk and azure-identity for Entra, httpx for SCIM), run by the built `harness` in place of
Entra's provisioning service against in-process mocks over HTTPS.

It must pass every scenario an external engine can run (the library's and the regressions' that do
not need Entra's own service, the examples' own) and hold every law that applies to an engine (`harness
laws --engine`); the same tool with its retries switched off (GRAPH_SDK_SYNC_NO_RETRY=1) must be caught
by the throttling scenario.
"""

from __future__ import annotations

import os
import subprocess
import sys

import mocks

ENGINE = mocks.ROOT / "examples" / "engines" / "graph_sdk_sync.py"
SCENARIOS = [
    mocks.ROOT / "scenarios" / "library",
    mocks.ROOT / "scenarios" / "regressions",
    mocks.ROOT / "examples" / "engines" / "scenarios",
    mocks.ROOT / "examples" / "engines" / "converging",
]
RUN_LIMIT = 600


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(mocks.binary("harness")), *args],
        capture_output=True, text=True, timeout=RUN_LIMIT, cwd=mocks.ROOT, env={**os.environ, **(env or {})},
    )


def engine() -> str:
    # This interpreter has the pinned SDKs (clients/python/requirements.txt); `--engine` splits at spaces.
    return f"{sys.executable} {ENGINE}"


def test_the_graph_sdk_engine_passes_every_scenario_an_external_engine_can_run() -> None:
    run = harness("run", "--engine", engine(), "--skip-inapplicable", "--jobs", "2", *map(str, SCENARIOS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "need Entra's own service and are passed over" in run.stderr
    passed = [line for line in run.stdout.splitlines() if line.startswith("PASS ")]
    names = " ".join(passed)
    for name in ("a nested group is flattened", "nothing lost when AWS throttles", "edits after the first cycle"):
        assert name in names, run.stdout


def test_the_graph_sdk_engine_without_retries_is_caught_by_the_throttling_scenario() -> None:
    throttling = mocks.ROOT / "examples" / "engines" / "scenarios" / "retries_under_throttling.toml"
    run = harness("run", "--engine", engine(), str(throttling), env={"GRAPH_SDK_SYNC_NO_RETRY": "1"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL  external engine: nothing lost when AWS throttles" in run.stdout, run.stdout
    assert "429" in run.stdout, "the tool's own stderr, with AWS's 429, is in the report"


def test_the_graph_sdk_engine_holds_every_law_that_applies_to_an_engine(tmp_path) -> None:
    # One case a law: each engine run starts Python and imports the SDK (~1.5 s), and a case runs it
    # once per cycle. `harness/tests/laws_engine.rs` runs more against the stdlib example.
    run = harness("laws", "--engine", engine(), "--cases", "1", "--regressions", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    held = [line for line in run.stdout.splitlines() if line.startswith("pass ")]
    assert len(held) == 7, run.stdout
    assert not any(tmp_path.iterdir()), "no law broken, no regression written"
