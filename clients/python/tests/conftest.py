"""Fixtures: the built mocks on free loopback ports, and Microsoft's Graph SDK pointed at mock-graph.

`graph_client` is the one place the SDK is built. mock-graph serves HTTPS (`--tls --ca-out`), so the
SDK takes its tokens as any app would: azure-identity's `ClientSecretCredential(tenant, client_id,
secret, authority="https://127.0.0.1:PORT", disable_instance_discovery=True)`, trusting the mock's CA
through `SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE`. With `GRAPH_TLS = False` the mock serves plain HTTP,
which azure-identity refuses ("The value must be a TLS protected (https) URL"); the client then
takes its tokens from the mock's token endpoint through Kiota's own bearer-token provider.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import httpx
import pytest
from azure.identity import ClientSecretCredential
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient

import mocks

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# mock-graph over HTTPS, the SDK with azure-identity; False: plain HTTP and a bearer-token provider.
GRAPH_TLS = True
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
    # PEM file of the CA that signed the mock's certificate; None over plain HTTP.
    ca: Path | None = None

    def admin(self) -> httpx.Client:
        """The admin API (`/_admin`), for what the cloud does in its console: the clock, the journal."""
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(self.ca)) if self.ca else True
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.Client(base_url=f"{self.url}/_admin", headers=headers, verify=verify, trust_env=False)

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
        tenant = urlparse(self.endpoint).path.strip("/").split("/")[0]
        headers = {"Authorization": f"Bearer {SCIM_ADMIN_TOKEN}"}
        answer = httpx.get(f"{self.url}/_admin/tenants/{tenant}/state", headers=headers)
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
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(self.ca)) if self.ca else True
        return httpx.Client(verify=verify, trust_env=False, timeout=30)

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


@pytest.fixture
def graph_mock() -> Iterator[GraphMock]:
    with tempfile.TemporaryDirectory(prefix="mock-graph-") as workdir:
        args = ["--listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN, "--seed", "7"]
        ca = Path(workdir) / "ca.pem" if GRAPH_TLS else None
        if ca is not None:
            args += ["--tls", "--ca-out", str(ca)]
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


def start_scim_mock(tls: bool = False) -> ScimMock:
    """Starts mock-scim on a free loopback port with one tenant: the one place that knows how a client
    finds its SCIM endpoint, token and (with `tls`, `--tls --ca-out`) the CA certificate to trust."""
    workdir = tempfile.TemporaryDirectory(prefix="mock-scim-")
    args = ["--listen", "127.0.0.1:0", "--tenant", "--admin-token", SCIM_ADMIN_TOKEN]
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
    """A fresh mock-scim tenant per test, over plain HTTP as mock-graph's engine reaches it today."""
    mock = start_scim_mock()
    try:
        yield mock
    finally:
        mock.stop()


class ClientCredentialsTokenProvider(AccessTokenProvider):
    """Client credentials against the mock's token endpoint, a token kept until shortly before it expires."""

    def __init__(self, mock: GraphMock) -> None:
        self._mock = mock
        self._token: str | None = None
        self._expires = 0.0
        self._hosts = AllowedHostsValidator([urlparse(mock.url).netloc])

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict[str, Any] = {}) -> str:
        if self._token is None or time.monotonic() > self._expires:
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"{self._mock.url}/{self._mock.tenant_id}/oauth2/v2.0/token",
                    data={
                        "client_id": self._mock.client_id,
                        "client_secret": self._mock.client_secret,
                        "grant_type": "client_credentials",
                        "scope": GRAPH_SCOPE,
                    },
                )
            answer.raise_for_status()
            body = answer.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + float(body["expires_in"]) - 60
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


@pytest.fixture
def graph_client(graph_mock: GraphMock, monkeypatch: pytest.MonkeyPatch) -> GraphServiceClient:
    """Microsoft's Graph SDK, unmodified, pointed at mock-graph's `/v1.0`."""
    if graph_mock.ca is not None:
        # requests (azure-identity, msal) reads REQUESTS_CA_BUNDLE, httpx (the SDK) SSL_CERT_FILE.
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
    auth = BaseBearerTokenAuthenticationProvider(ClientCredentialsTokenProvider(graph_mock))
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{graph_mock.url}/v1.0"
    return GraphServiceClient(request_adapter=adapter)
