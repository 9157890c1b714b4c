"""`harness run --scim URL --scim-token T`: the scenario library with a SCIM server of another make in
AWS's place (scim2-server from PyPI, pinned in requirements.txt), Entra's service on an in-process
mock-graph, AWS's state read over SCIM because the server has no admin API.

The verdicts must equal harness/tests/scim-target/scim2-server.expected, which says why each failure
is one (a rule of AWS's the RFC server does not have); and the server must be left as it was found.
"""

from __future__ import annotations

import re
import subprocess

import httpx

import mocks
from test_validate_scim import scim2_server  # noqa: F401 (the fixture)

EXPECTED = mocks.ROOT / "harness" / "tests" / "scim-target" / "scim2-server.expected"
VERDICT = re.compile(r"^(PASS|FAIL)  .*  \(\d+ ms\)  (\S+)$")


def test_the_library_against_scim2_server_differs_only_where_written_down(scim2_server: str) -> None:  # noqa: F811
    run = subprocess.run(
        [str(mocks.binary("harness")), "run", "--scim", scim2_server, "--scim-token", "unchecked",
         "--skip-inapplicable", "scenarios/library"],
        capture_output=True, text=True, timeout=300, cwd=mocks.ROOT,
    )
    assert "need mock-scim's admin API and are passed over" in run.stderr, run.stderr
    verdicts = [f"{m.group(1)}  {m.group(2)}" for m in map(VERDICT.match, run.stdout.splitlines()) if m]
    expected = [line for line in EXPECTED.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert verdicts == expected, run.stdout
    assert run.returncode == (1 if any(line.startswith("FAIL") for line in expected) else 0), run.stdout
    for resource in ("Users", "Groups"):
        listed = httpx.get(f"{scim2_server}{resource}", trust_env=False, timeout=10).json()
        assert listed["totalResults"] == 0, f"the harness left {resource} behind: {listed}"
