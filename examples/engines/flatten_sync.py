#!/usr/bin/env python3
"""A small sync tool of one's own, in place of Entra's provisioning service: it reads the users and
groups assigned to the AWS app from Graph and writes them to AWS over SCIM, flattening nested groups
(an AWS group holds every user below its Entra group). One run is one cycle; the harness runs it once
per cycle due, with the endpoints in its environment (the names `harness serve --env-file` writes).

Python's standard library only. Set FLATTEN_SYNC_NO_RETRY=1 to break it on purpose: it then gives up on
the first 429 or 5xx instead of retrying, which the harness's faults catch.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ENV = os.environ
RETRY = ENV.get("FLATTEN_SYNC_NO_RETRY") != "1"


def call(method, url, token, body=None, form=None):
    data, headers = None, {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data, headers["Content-Type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    for attempt in range(4):
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                text = answer.read()
                return answer.status, json.loads(text) if text.strip() else None
        except urllib.error.HTTPError as err:
            text = err.read()
            if RETRY and (err.code == 429 or err.code >= 500) and attempt < 3:
                time.sleep(min(float(err.headers.get("Retry-After") or 0), 1.0))
                continue
            return err.code, json.loads(text) if text.strip() else None
    raise AssertionError("unreachable")


def graph_token():
    status, answer = call("POST", f"{ENV['GRAPH_URL']}/{ENV['GRAPH_TENANT']}/oauth2/v2.0/token", None, form={
        "grant_type": "client_credentials", "client_id": ENV["GRAPH_CLIENT_ID"],
        "client_secret": ENV["GRAPH_CLIENT_SECRET"], "scope": "https://graph.microsoft.com/.default"})
    if status != 200:
        sys.exit(f"token endpoint answered {status}")
    return answer["access_token"]


def graph_all(token, path):
    url, items = f"{ENV['GRAPH_URL']}/v1.0{path}", []
    while url:
        status, page = call("GET", url, token)
        if status != 200:
            sys.exit(f"GET {url} answered {status}: {page}")
        items.extend(page.get("value", []))
        url = page.get("@odata.nextLink")
    return items


def is_member(scim, token, group_id, user_id):
    query = urllib.parse.quote(f'id eq "{group_id}" and members eq "{user_id}"')
    status, found = call("GET", f"{scim}Groups?filter={query}", token)
    return status == 200 and bool(found["Resources"])


def main():
    token = graph_token()
    sp = ENV["SERVICE_PRINCIPAL_ID"]
    users, groups = {}, {}
    for assignment in graph_all(token, f"/servicePrincipals/{sp}/appRoleAssignedTo"):
        kind, pid = assignment["principalType"], assignment["principalId"]
        if kind == "User":
            status, user = call("GET", f"{ENV['GRAPH_URL']}/v1.0/users/{pid}", token)
            users[user["userPrincipalName"]] = user
        elif kind == "Group":
            status, group = call("GET", f"{ENV['GRAPH_URL']}/v1.0/groups/{pid}", token)
            members = [m for m in graph_all(token, f"/groups/{pid}/transitiveMembers")
                       if m.get("@odata.type") == "#microsoft.graph.user"]
            groups[group["displayName"]] = [m["userPrincipalName"] for m in members]
            for member in members:
                users[member["userPrincipalName"]] = member
    scim, scim_token, failures = ENV["SCIM_URL"], ENV["SCIM_TOKEN"], 0
    ids = {}
    for upn, user in sorted(users.items()):
        query = urllib.parse.quote(f'userName eq "{upn}"')
        status, found = call("GET", f"{scim}Users?filter={query}", scim_token)
        if status == 200 and found["Resources"]:
            ids[upn] = found["Resources"][0]["id"]
            continue
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": upn,
                "displayName": user.get("displayName") or upn, "active": user.get("accountEnabled", True),
                "name": {"givenName": user.get("givenName") or "-", "familyName": user.get("surname") or "-"},
                "emails": [{"value": user.get("mail") or upn, "type": "work", "primary": True}]}
        status, created = call("POST", f"{scim}Users", scim_token, body)
        if status == 201:
            ids[upn] = created["id"]
        else:
            failures += 1
            print(f"user {upn}: {status} {created}", file=sys.stderr)
    for name, members in sorted(groups.items()):
        query = urllib.parse.quote(f'displayName eq "{name}"')
        status, found = call("GET", f"{scim}Groups?filter={query}", scim_token)
        existing = status == 200 and found["Resources"]
        if existing:
            group_id = found["Resources"][0]["id"]
        else:
            status, created = call("POST", f"{scim}Groups", scim_token,
                                   {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
            if status != 201:
                failures += 1
                print(f"group {name}: {status} {created}", file=sys.stderr)
                continue
            group_id = created["id"]
        wanted = [{"value": ids[m]} for m in sorted(set(members)) if m in ids]
        if existing:
            # Only the members the group lacks: a cycle after convergence sends no write. AWS lists
            # groups without their members; `id eq … and members eq …` asks for one.
            wanted = [m for m in wanted if not is_member(scim, scim_token, group_id, m["value"])]
        if wanted:
            status, answer = call("PATCH", f"{scim}Groups/{group_id}", scim_token, {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": wanted}]})
            if status not in (200, 204):
                failures += 1
                print(f"members of {name}: {status} {answer}", file=sys.stderr)
    print(f"cycle {ENV.get('ENGINE_CYCLE')}: {len(users)} users, {len(groups)} groups, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
