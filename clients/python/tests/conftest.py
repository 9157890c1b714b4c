"""Fixtures: the built mocks over HTTPS on free loopback ports, and Microsoft's Graph SDK pointed at
mock-graph as an app would be: azure-identity's `ClientSecretCredential(tenant, client_id, secret,
authority="https://127.0.0.1:PORT", disable_instance_discovery=True)`.

Each mock writes the CA of its certificate (`--tls --ca-out`); clients trust it through `SSL_CERT_FILE`
(httpx, so the SDK and scim2-cli; the stdlib) and `REQUESTS_CA_BUNDLE` (requests, so azure-identity,
MSAL and scim-sanity). The two mocks run with different seeds, so different CAs: mock-graph's
provisioning engine trusts mock-scim's through `--scim-trust-ca`, as the README tells users to.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import httpx
import pytest
from azure.identity import ClientSecretCredential
from msgraph import GraphServiceClient

import mocks

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ADMIN_TOKEN = "adm"
SCIM_ADMIN_TOKEN = "adm2"


@dataclass
class GraphMock:
    """A running mock-graph: its URL, tenant and client credentials, as it announced them."""

    url: str
    domain: str
    tenant_id: str
    client_id: str
    client_secret: str
    # PEM file of the CA that signed the mock's certificate.
    ca: Path

    def admin(self) -> httpx.Client:
        """The admin API (`/_admin`), for what the cloud does in its console: the clock, the journal."""
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.Client(base_url=f"{self.url}/_admin", headers=headers, verify=trusting(self.ca), trust_env=False)

    def advance(self, by: str) -> None:
        """Moves the virtual clock; every provisioning cycle that falls due runs before it answers."""
        with self.admin() as admin:
            admin.post("/clock/advance", json={"by": by}).raise_for_status()


@dataclass
class ScimMock:
    """A running mock-scim tenant: the SCIM endpoint and token AWS's console shows."""

    url: str
    endpoint: str
    token: str
    # PEM file of the CA that signed the mock's certificate; None while mock-scim serves plain HTTP.
    ca: Path | None = None
    # The process, when `start_scim_mock` started it; `stop()` ends it.
    process: mocks.Mock | None = field(default=None, repr=False)
    _workdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def state(self) -> dict[str, Any]:
        """The tenant's users and groups, through mock-scim's admin API."""
        headers = {"Authorization": f"Bearer {SCIM_ADMIN_TOKEN}"}
        with self.http() as http:
            answer = http.get(f"{self.url}/_admin/tenants/{self.tenant}/state", headers=headers)
        answer.raise_for_status()
        return answer.json()

    @property
    def tenant(self) -> str:
        return urlparse(self.endpoint).path.strip("/").split("/")[0]

    def client_env(self) -> dict[str, str]:
        """Environment variables that make a client process reach and trust this mock.

        httpx (scim2-cli) and the stdlib read `SSL_CERT_FILE`, requests (scim-sanity, msal)
        `REQUESTS_CA_BUNDLE`; loopback bypasses any proxy the environment names.
        """
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1,localhost,::1"]))
        env = {"NO_PROXY": no_proxy, "no_proxy": no_proxy}
        if self.ca is not None:
            env["SSL_CERT_FILE"] = str(self.ca)
            env["REQUESTS_CA_BUNDLE"] = str(self.ca)
        return env

    def http(self) -> httpx.Client:
        """A plain client trusting the mock's CA, for the mock's own endpoints."""
        return httpx.Client(verify=trusting(self.ca) if self.ca else True, trust_env=False, timeout=30)

    def reset(self) -> None:
        """Back to a fresh mock (`POST /_admin/reset`), with the same tenant id and a new token."""
        headers = {"Authorization": f"Bearer {SCIM_ADMIN_TOKEN}"}
        with self.http() as http:
            http.post(f"{self.url}/_admin/reset", headers=headers).raise_for_status()
            created = http.post(f"{self.url}/_admin/tenants", headers=headers, json={"tenantId": self.tenant})
            created.raise_for_status()
        self.token = created.json()["accessToken"]

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self._workdir is not None:
            self._workdir.cleanup()


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


@pytest.fixture
def graph_mock(scim_mock: ScimMock) -> Iterator[GraphMock]:
    """mock-graph over HTTPS, its engine trusting `scim_mock`'s CA."""
    assert scim_mock.ca is not None
    with tempfile.TemporaryDirectory(prefix="mock-graph-") as workdir:
        ca = Path(workdir) / "ca.pem"
        args = ["--listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN, "--seed", "7"]
        args += ["--tls", "--ca-out", str(ca), "--scim-trust-ca", str(scim_mock.ca)]
        process = mocks.start("mock-graph", args, ["url", "tenant", "client id", "client secret"])
        try:
            domain, tenant_id = process.lines["tenant"].rstrip(")").split(" (")
            yield GraphMock(
                url=process.lines["url"],
                domain=domain,
                tenant_id=tenant_id,
                client_id=process.lines["client id"],
                client_secret=process.lines["client secret"],
                ca=ca,
            )
        finally:
            process.stop()


def start_scim_mock(tls: bool = True) -> ScimMock:
    """Starts mock-scim on a free loopback port with one tenant: the one place that knows how a client
    finds its SCIM endpoint, token and (with `tls`, `--tls --ca-out`) the CA certificate to trust."""
    workdir = tempfile.TemporaryDirectory(prefix="mock-scim-")
    args = ["--listen", "127.0.0.1:0", "--tenant", "--admin-token", SCIM_ADMIN_TOKEN, "--seed", "11"]
    ca = None
    if tls:
        ca = Path(workdir.name) / "ca.pem"
        args += ["--tls", "--ca-out", str(ca)]
    try:
        process = mocks.start("mock-scim", args, ["url", "SCIM endpoint", "access token"])
    except BaseException:
        workdir.cleanup()
        raise
    return ScimMock(
        url=process.lines["url"],
        endpoint=process.lines["SCIM endpoint"],
        token=process.lines["access token"],
        ca=ca,
        process=process,
        _workdir=workdir,
    )


@pytest.fixture
def scim_mock() -> Iterator[ScimMock]:
    """A fresh mock-scim tenant per test, over HTTPS as AWS serves it."""
    mock = start_scim_mock()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def graph_client(graph_mock: GraphMock, monkeypatch: pytest.MonkeyPatch) -> GraphServiceClient:
    """Microsoft's Graph SDK and azure-identity, unmodified, pointed at mock-graph (the README's
    "From Python" does the same)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(graph_mock.ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(graph_mock.ca))
    credential = ClientSecretCredential(
        graph_mock.tenant_id,
        graph_mock.client_id,
        graph_mock.client_secret,
        authority=graph_mock.url,
        disable_instance_discovery=True,
    )
    client = GraphServiceClient(credentials=credential, scopes=[GRAPH_SCOPE])
    client.request_adapter.base_url = f"{graph_mock.url}/v1.0"
    return client
