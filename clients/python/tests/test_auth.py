"""Microsoft's auth libraries against mock-graph over HTTPS, unmodified: MSAL Python's
`ConfidentialClientApplication` reads the tenant's OpenID metadata, then takes a client-credentials
token that Graph accepts; a wrong secret comes back as Entra words it (microsoft-graph.md §1.1)."""

from __future__ import annotations

import httpx
import msal
import pytest

from conftest import GRAPH_SCOPE, GraphMock, trusting


@pytest.fixture
def trust_mock_graph(graph_mock: GraphMock, monkeypatch: pytest.MonkeyPatch) -> GraphMock:
    # MSAL talks through requests, which reads REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(graph_mock.ca))
    return graph_mock


def test_msal_takes_a_token_that_graph_accepts(trust_mock_graph: GraphMock) -> None:
    mock = trust_mock_graph
    for tenant in [mock.domain, mock.tenant_id]:
        app = msal.ConfidentialClientApplication(
            mock.client_id,
            client_credential=mock.client_secret,
            authority=f"{mock.url}/{tenant}",
            instance_discovery=False,
        )
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        assert "access_token" in result, result
        assert result["token_type"] == "Bearer" and result["expires_in"] > 0
        with httpx.Client(verify=trusting(mock.ca)) as http:
            answer = http.get(f"{mock.url}/v1.0/users", headers={"Authorization": f"Bearer {result['access_token']}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["value"] == []


def test_msal_reports_a_wrong_secret_as_entra_does(trust_mock_graph: GraphMock) -> None:
    mock = trust_mock_graph
    app = msal.ConfidentialClientApplication(
        mock.client_id, client_credential="not-the-secret", authority=f"{mock.url}/{mock.domain}", instance_discovery=False
    )
    result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result.get("error") == "invalid_client", result
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_msal_refuses_an_unknown_tenant_at_discovery(trust_mock_graph: GraphMock) -> None:
    mock = trust_mock_graph
    with pytest.raises(ValueError, match="Unable to get authority configuration") as refused:
        msal.ConfidentialClientApplication(
            mock.client_id,
            client_credential=mock.client_secret,
            authority=f"{mock.url}/fabrikam.onmicrosoft.com",
            instance_discovery=False,
        )
    # MSAL's own words, over the discovery answer it got: Entra's 400 for a tenant it does not know.
    cause = str(refused.value.__context__)
    assert "HTTP status: 400" in cause and "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found." in cause, cause


def test_without_the_ca_the_certificate_is_refused(graph_mock: GraphMock) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{graph_mock.url}/_admin/health", verify=True, trust_env=False)
