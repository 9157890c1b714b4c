"""`harness validate-scim` against SCIM servers other than the Rust tests': scim2-server from PyPI
(pinned in requirements.txt) under uvicorn, and the mock-scim binary over HTTPS through `--ca-cert`.

Each run's verdict lines (`PASS  default        probe-users`) must equal the server's expected file in
harness/tests/validate/, which says why each difference is one: a new failure is a harness or server
change to explain, and a listed failure that passes means the file is stale.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import mocks
from conftest import ScimMock, start_scim_mock

EXPECTED = mocks.ROOT / "harness" / "tests" / "validate"
LAUNCHER_DIR = mocks.ROOT / "harness" / "benches"  # scim2_server_asgi.py, as the report bench serves it
START_LIMIT = 60.0
RUN_LIMIT = 300


def expected(name: str) -> list[str]:
    lines = (EXPECTED / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def verdicts(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith(("PASS ", "FAIL ", "SKIP "))]


def validate(url: str, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [str(mocks.binary("harness")), "validate-scim", "--url", url, "--token", token, "--seed", "1", *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("SCIM_URL", "SCIM_TOKEN")}
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_LIMIT, check=False, env=env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def scim2_server() -> Iterator[str]:
    """scim2-server's ASGI application over in-memory storage, under uvicorn on a free loopback port;
    its base URL. It checks no token."""
    port = free_port()
    log = open(Path(mocks.TARGET) / "scim2-server-validate.log", "w+b")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(LAUNCHER_DIR), "scim2_server_asgi:app"]
        + ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"scim2-server exited ({process.returncode}): {log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{url}Users?count=1", trust_env=False, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - started > START_LIMIT:
                pytest.fail(f"scim2-server did not answer on {url} within {START_LIMIT} s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_scim2_server_differs_from_what_entra_needs_only_where_written_down(scim2_server: str) -> None:
    result = validate(scim2_server, "scim2-server-checks-no-token")
    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout) == expected("scim2-server.expected"), result.stdout
    # The refused default-dialect remove is the one the expected file explains.
    assert "a remove operation carries no value" in result.stdout, result.stdout
    # What the run made is gone again.
    listed = httpx.get(f"{scim2_server}Users", trust_env=False).json()
    assert listed["totalResults"] == 0, listed
    groups = httpx.get(f"{scim2_server}Groups", trust_env=False).json()
    assert groups["totalResults"] == 0, groups


@pytest.fixture
def scim_mock_https() -> Iterator[ScimMock]:
    mock = start_scim_mock(tls=True)
    try:
        yield mock
    finally:
        mock.stop()


def test_mock_scim_over_https_passes_every_check_with_its_ca_given(scim_mock_https: ScimMock) -> None:
    assert scim_mock_https.ca is not None
    result = validate(scim_mock_https.endpoint, scim_mock_https.token, "--ca-cert", str(scim_mock_https.ca))
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == expected("mock-scim.expected"), result.stdout
    # Without the CA, the certificate is refused at the probe: nothing can be judged, exit 2.
    refused = validate(scim_mock_https.endpoint, scim_mock_https.token)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "did not answer the probe" in refused.stderr, refused.stderr
