#!/usr/bin/env bash
# Drives a served seed story from outside with curl, as a user's tool would, and checks AWS's side:
# a Graph token by client credentials, the job started, mock-graph's clock advanced 40 minutes (the
# cycle runs before the answer), then SRE in AWS with its two members and no Administrator (a name
# AWS reserves), and the refusal in the provisioning logs. Usage: docker/smoke.sh ENV_FILE (the KEY=VALUE lines `harness serve` printed).
set -euo pipefail

env_file=${1:?usage: docker/smoke.sh ENV_FILE}
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

fail() {
    echo "smoke: $*" >&2
    exit 1
}

token=$(curl -fsS -X POST "$GRAPH_URL/$GRAPH_TENANT/oauth2/v2.0/token" \
    -d "client_id=$GRAPH_CLIENT_ID" --data-urlencode "client_secret=$GRAPH_CLIENT_SECRET" \
    -d scope=https://graph.microsoft.com/.default -d grant_type=client_credentials |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || fail "no Graph token"

job="$GRAPH_URL/v1.0/servicePrincipals/$SERVICE_PRINCIPAL_ID/synchronization/jobs/$SYNC_JOB_ID"
curl -fsS -X POST -H "Authorization: Bearer $token" "$job/start" >/dev/null || fail "the job did not start"
curl -fsS -X POST -H "Authorization: Bearer $GRAPH_ADMIN_TOKEN" -H 'content-type: application/json' \
    -d '{"by":"PT40M"}' "$GRAPH_URL/_admin/clock/advance" >/dev/null || fail "the clock did not advance"

groups=$(curl -fsS -H "Authorization: Bearer $SCIM_TOKEN" "${SCIM_URL}Groups")
case $groups in
    *'"displayName":"Administrator"'*) fail "Administrator reached AWS: $groups" ;;
    *'"displayName":"SRE"'*) ;;
    *) fail "SRE is not in AWS: $groups" ;;
esac
# AWS's list leaves members out (as AWS does): the console's view, through mock-scim's admin API.
state=$(curl -fsS -H "Authorization: Bearer $SCIM_ADMIN_TOKEN" "$SCIM_BASE_URL/_admin/tenants/$SCIM_TENANT_ID/state")
members=$(sed -n 's/.*"displayName":"SRE","members":\[\([^]]*\)\].*/\1/p' <<<"$state" | tr ',' '\n' | grep -c . || true)
[ "$members" -eq 2 ] || fail "SRE has $members members in AWS, not 2: $state"
logs=$(curl -fsS -H "Authorization: Bearer $token" "$GRAPH_URL/v1.0/auditLogs/provisioning")
grep -q 'SystemForCrossDomainIdentityManagementBadRequest' <<<"$logs" || fail "no refusal in the logs: $logs"
echo "smoke: SRE synced with 2 members, Administrator refused by AWS"
