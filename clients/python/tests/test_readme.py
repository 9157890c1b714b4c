"""The README's "From Python" and "From any SCIM client" snippets, run as they are written against the
built binaries over HTTPS: a README that stops working fails CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import GraphMock, ScimMock

README = Path(__file__).resolve().parents[3] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def snippets(heading: str, language: str) -> list[str]:
    """The fenced `language` blocks of the README section under `## heading`, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return [body for lang, body in FENCE.findall(section) if lang == language]


def client_env(**values: str) -> dict[str, str]:
    """The process environment with the tools of this venv first on PATH, loopback past any proxy."""
    env = {**os.environ, **values}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


def test_from_python_creates_and_lists_a_user_through_the_sdk(graph_mock: GraphMock) -> None:
    [program] = snippets("From Python", "python")
    env = client_env(
        GRAPH_URL=graph_mock.url,
        GRAPH_TENANT=graph_mock.domain,
        GRAPH_CLIENT_ID=graph_mock.client_id,
        GRAPH_CLIENT_SECRET=graph_mock.client_secret,
        SSL_CERT_FILE=str(graph_mock.ca),
        REQUESTS_CA_BUNDLE=str(graph_mock.ca),
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['annie@contoso.onmicrosoft.com']\n", done.stdout


def test_from_any_scim_client_reaches_mock_scim_with_each_tool(scim_mock: ScimMock, tmp_path: Path) -> None:
    setup, commands = snippets("From any SCIM client", "sh")
    assert "--tls --ca-out scim-ca.pem" in setup
    assert scim_mock.ca is not None
    shutil.copy(scim_mock.ca, tmp_path / "scim-ca.pem")
    env = client_env(SCIM_URL=scim_mock.endpoint, SCIM_TOKEN=scim_mock.token)
    # The tools exit non-zero where AWS fails their checks (test_scim_tools.py holds that list), so
    # the block runs to its end and its output shows each command reached the mock.
    done = subprocess.run(
        ["bash", "-c", commands], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert '"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"' in output, output  # curl
    assert "SUCCESS service_provider_config_endpoint" in output, output  # scim2 test
    assert "Result:" in output and "CERTIFICATE_VERIFY_FAILED" not in output, output  # scim-sanity probe
