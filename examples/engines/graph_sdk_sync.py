#!/usr/bin/env python3
"""A sync tool of one's own, as a team would write it with Microsoft's own libraries: it reads Entra
through the Graph SDK for Python (msgraph-sdk, with azure-identity's client credentials) and writes AWS
IAM Identity Center over SCIM (httpx), converging AWS on what is assigned to the AWS app:

- users assigned directly or through a group (nested groups flattened, which Entra's own service does
  not do) are created, or updated when their name, display name or enabled state changed;
- a user it manages (its `externalId` is the Entra object id) that left the scope is disabled, and
  deleted once purged from Entra;
- assigned groups are created, renamed (matched by `externalId`), their members set to every user
  below them; a group it manages that is no longer assigned is deleted;
- what AWS refuses (a reserved group name, a duplicate) is reported, the rest goes on.

One run is one cycle. The harness runs it once per cycle due, with the endpoints in its environment
(the names `harness serve --env-file` writes) over HTTPS, the CA named by `SSL_CERT_FILE` and
`REQUESTS_CA_BUNDLE`. 429 and 5xx are retried, waiting out `Retry-After` (up to a second);
GRAPH_SDK_SYNC_NO_RETRY=1 breaks that on purpose. Exit 1 when AWS refused anything, else 0.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.parse

import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

ENV = os.environ
RETRY = ENV.get("GRAPH_SDK_SYNC_NO_RETRY") != "1"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_FIELDS = ["id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "accountEnabled"]


# --- Entra, through the Graph SDK ------------------------------------------------------------------

def graph_client() -> tuple[GraphServiceClient, ClientSecretCredential]:
    credential = ClientSecretCredential(
        ENV["GRAPH_TENANT"], ENV["GRAPH_CLIENT_ID"], ENV["GRAPH_CLIENT_SECRET"],
        authority=ENV["GRAPH_URL"], disable_instance_discovery=True,
    )
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
    client.request_adapter.base_url = f"{ENV['GRAPH_URL']}/v1.0"
    return client, credential


async def every_page(builder) -> list:
    """Every item of a collection, following `@odata.nextLink`."""
    items, page = [], await builder.get()
    while page is not None:
        items.extend(page.value or [])
        if not page.odata_next_link:
            break
        page = await builder.with_url(page.odata_next_link).get()
    return items


async def entra_user(client: GraphServiceClient, user_id: str) -> User | None:
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
    try:
        return await client.users.by_user_id(user_id).get(RequestConfiguration(query_parameters=query))
    except ODataError as err:
        if err.response_status_code == 404:
            return None
        raise


async def in_scope(client: GraphServiceClient) -> tuple[dict[str, User], dict[str, tuple[str, set[str]]]]:
    """Users in scope by object id, and assigned groups by object id: (display name, user ids below)."""
    sp = client.service_principals.by_service_principal_id(ENV["SERVICE_PRINCIPAL_ID"])
    users: dict[str, User] = {}
    groups: dict[str, tuple[str, set[str]]] = {}
    for assignment in await every_page(sp.app_role_assigned_to):
        principal = str(assignment.principal_id)
        if assignment.principal_type == "User":
            user = await entra_user(client, principal)
            if user is not None:
                users[principal] = user
        elif assignment.principal_type == "Group":
            group = client.groups.by_group_id(principal)
            name = (await group.get()).display_name
            below = [m for m in await every_page(group.transitive_members) if isinstance(m, User)]
            groups[principal] = (name, {m.id for m in below})
            for member in below:
                if member.id not in users:
                    user = await entra_user(client, member.id)
                    if user is not None:
                        users[member.id] = user
    return users, groups


async def purged(client: GraphServiceClient, object_id: str) -> bool:
    """Gone from Entra for good: neither a user nor in deleted items."""
    if await entra_user(client, object_id) is not None:
        return False
    try:
        await client.directory.deleted_items.by_directory_object_id(object_id).get()
        return False
    except ODataError as err:
        if err.response_status_code == 404:
            return True
        raise


# --- AWS, over SCIM ----------------------------------------------------------------------------------

class Scim:
    def __init__(self) -> None:
        self.base = ENV["SCIM_URL"]
        self.http = httpx.Client(headers={"Authorization": f"Bearer {ENV['SCIM_TOKEN']}"}, timeout=30)
        self.refused: list[str] = []

    def call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        for attempt in range(4):
            answer = self.http.request(method, self.base + path, json=body,
                                       headers={"Content-Type": "application/scim+json"} if body else None)
            if RETRY and (answer.status_code == 429 or answer.status_code >= 500) and attempt < 3:
                time.sleep(min(float(answer.headers.get("Retry-After") or 0), 1.0))
                continue
            return answer
        raise AssertionError("unreachable")

    def ok(self, what: str, answer: httpx.Response, *expected: int) -> bool:
        if answer.status_code in expected:
            return True
        self.refused.append(what)
        print(f"{what}: {answer.status_code} {answer.text}", file=sys.stderr)
        return False

    def list(self, resource: str, filter_: str | None = None) -> list[dict]:
        """Every resource, through AWS's cursor paging."""
        items, cursor = [], ""
        while True:
            query = {"count": "100", **({"filter": filter_} if filter_ else {}), **({"cursor": cursor} if cursor else {})}
            answer = self.call("GET", f"{resource}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}")
            if not self.ok(f"list {resource}", answer, 200):
                return items
            page = answer.json()
            items.extend(page.get("Resources", []))
            cursor = page.get("nextCursor")
            if not cursor:
                return items

    def patch(self, what: str, path: str, operations: list[dict]) -> bool:
        answer = self.call("PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": operations})
        return self.ok(what, answer, 200, 204)


def user_body(user: User) -> dict:
    return {
        "schemas": [USER_SCHEMA], "userName": user.user_principal_name, "externalId": user.id,
        "displayName": user.display_name or user.user_principal_name, "active": bool(user.account_enabled),
        "name": {"givenName": user.given_name or "-", "familyName": user.surname or "-"},
        "emails": [{"value": user.mail or user.user_principal_name, "type": "work", "primary": True}],
    }


async def sync() -> int:
    client, credential = graph_client()
    try:
        users, groups = await in_scope(client)
        scim = Scim()
        aws_users = {u["userName"].lower(): u for u in scim.list("Users")}
        aws_ids: dict[str, str] = {}  # Entra object id -> AWS id
        for entra_id, user in sorted(users.items(), key=lambda kv: kv[1].user_principal_name):
            wanted = user_body(user)
            held = aws_users.get(user.user_principal_name.lower())
            if held is None:
                answer = scim.call("POST", "Users", wanted)
                if scim.ok(f"user {user.user_principal_name}", answer, 201):
                    aws_ids[entra_id] = answer.json()["id"]
                continue
            aws_ids[entra_id] = held["id"]
            changes = {key: wanted[key] for key in ("displayName", "active") if held.get(key) != wanted[key]}
            for part in ("givenName", "familyName"):
                if (held.get("name") or {}).get(part) != wanted["name"][part]:
                    changes[f"name.{part}"] = wanted["name"][part]
            if changes:
                operations = [{"op": "replace", "path": path, "value": value} for path, value in changes.items()]
                scim.patch(f"user {user.user_principal_name}", f"Users/{held['id']}", operations)
        # Users this tool made that left the scope: disabled, deleted once purged from Entra.
        for held in aws_users.values():
            external = held.get("externalId")
            if not external or external in users:
                continue
            if await purged(client, external):
                scim.ok(f"delete user {held['userName']}", scim.call("DELETE", f"Users/{held['id']}"), 204, 404)
            elif held.get("active", True):
                scim.patch(f"disable {held['userName']}", f"Users/{held['id']}",
                           [{"op": "replace", "path": "active", "value": False}])

        aws_groups = scim.list("Groups")
        by_external = {g["externalId"]: g for g in aws_groups if g.get("externalId")}
        by_name = {g["displayName"].lower(): g for g in aws_groups}
        for entra_id, (name, below) in sorted(groups.items(), key=lambda kv: kv[1][0]):
            held = by_external.get(entra_id) or by_name.get(name.lower())
            if held is None:
                answer = scim.call("POST", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": entra_id})
                if not scim.ok(f"group {name}", answer, 201):
                    continue
                held = answer.json()
            elif held["displayName"] != name:
                scim.patch(f"rename {held['displayName']} to {name}", f"Groups/{held['id']}",
                           [{"op": "replace", "path": "displayName", "value": name}])
            wanted = {aws_ids[m] for m in below if m in aws_ids}
            current = {u["id"] for u in scim.list("Users", f'groups.value eq "{held["id"]}"')}
            operations = []
            if wanted - current:
                operations.append({"op": "add", "path": "members", "value": [{"value": v} for v in sorted(wanted - current)]})
            operations += [{"op": "remove", "path": f'members[value eq "{v}"]'} for v in sorted(current - wanted)]
            if operations:
                scim.patch(f"members of {name}", f"Groups/{held['id']}", operations)
        # Groups this tool made that are no longer assigned (or gone from Entra): deleted.
        for external, held in by_external.items():
            if external not in groups:
                scim.ok(f"delete group {held['displayName']}", scim.call("DELETE", f"Groups/{held['id']}"), 204, 404)

        print(f"cycle {ENV.get('ENGINE_CYCLE')}: {len(users)} users, {len(groups)} groups, "
              f"{len(scim.refused)} refused")
        return 1 if scim.refused else 0
    finally:
        await credential.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(sync()))
