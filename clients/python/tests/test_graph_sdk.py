"""The seed tutorial end to end through Microsoft's Graph SDK for Python (`msgraph-sdk`), unmodified.

Every Graph call a tutorial reader makes goes through the SDK's own request builders and models, so
the mock sees exactly what the SDK sends: `@odata.type` on every entity, `$ref` bodies, `%24`-free
query keys, `delta()` paths. Only what the clouds do in their consoles goes through the admin APIs:
the clock (forty minutes pass), and AWS's side of the story (what mock-scim holds).

The story (shared/seed): Annie Easley is in the groups Administrator and SRE, both assigned to the
AWS IAM Identity Center app; after the first cycle AWS has refused Administrator as a reserved name,
SRE and Annie are there. Provision on demand joins a user to groups AWS already has, and creates
none. Delta rounds reach a deltaLink, and the deltaLink then shows what changed.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
    InstantiatePostRequestBody,
)
from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import ProvisioningRequestBuilder
from msgraph.generated.groups.item.members.ref.ref_request_builder import RefRequestBuilder
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.provisioning_object_summary import ProvisioningObjectSummary
from msgraph.generated.models.provisioning_result import ProvisioningResult
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.models.synchronization_job_application_parameters import (
    SynchronizationJobApplicationParameters,
)
from msgraph.generated.models.synchronization_job_restart_criteria import SynchronizationJobRestartCriteria
from msgraph.generated.models.synchronization_job_restart_scope import SynchronizationJobRestartScope
from msgraph.generated.models.synchronization_job_subject import SynchronizationJobSubject
from msgraph.generated.models.synchronization_secret import SynchronizationSecret
from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
    SynchronizationSecretKeyStringValuePair,
)
from msgraph.generated.models.user import User
from msgraph.generated.service_principals.item.synchronization.jobs.item.provision_on_demand.provision_on_demand_post_request_body import (
    ProvisionOnDemandPostRequestBody,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.restart.restart_post_request_body import (
    RestartPostRequestBody,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.validate_credentials.validate_credentials_post_request_body import (
    ValidateCredentialsPostRequestBody,
)
from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (
    SecretsPutRequestBody,
)
from msgraph.generated.service_principals.service_principals_request_builder import ServicePrincipalsRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from conftest import GraphMock, ScimMock

# The SDK's generated request builders warn about their own deprecated configuration classes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The AWS IAM Identity Center gallery template (entra-provisioning.md §1).
AWS_TEMPLATE_ID = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4"
AWS_APP_NAME = "AWS IAM Identity Center"
# Provision on demand's rule for users (entra-provisioning.md §7.5).
USER_RULE_ID = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"


async def create_user(client: GraphServiceClient, upn: str, given: str, surname: str) -> User:
    user = User(
        account_enabled=True,
        display_name=f"{given} {surname}",
        given_name=given,
        surname=surname,
        mail_nickname=upn.split("@")[0],
        user_principal_name=upn,
        mail=upn,
        password_profile=PasswordProfile(force_change_password_next_sign_in=False, password="x-Password-1"),
    )
    created = await client.users.post(user)
    assert created is not None and created.id
    return created


async def create_group(client: GraphServiceClient, name: str) -> Group:
    created = await client.groups.post(
        Group(display_name=name, mail_enabled=False, mail_nickname=name, security_enabled=True, group_types=[])
    )
    assert created is not None and created.id and created.display_name == name
    return created


async def add_member(client: GraphServiceClient, mock: GraphMock, group: Group, member: User) -> None:
    reference = ReferenceCreate(odata_id=f"{mock.url}/v1.0/directoryObjects/{member.id}")
    await client.groups.by_group_id(group.id).members.ref.post(reference)


async def instantiate_aws(client: GraphServiceClient) -> ServicePrincipal:
    """The gallery app, then its service principal found again by appId and by name, as scripts do."""
    created = await client.application_templates.by_application_template_id(AWS_TEMPLATE_ID).instantiate.post(
        InstantiatePostRequestBody(display_name=AWS_APP_NAME)
    )
    assert created is not None and created.service_principal is not None and created.application is not None
    app_id = created.service_principal.app_id
    assert created.application.app_id == app_id
    for clause in [f"appId eq '{app_id}'", f"displayName eq '{AWS_APP_NAME}'"]:
        query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(filter=clause)
        found = await client.service_principals.get(RequestConfiguration(query_parameters=query))
        assert found is not None and [sp.id for sp in found.value] == [created.service_principal.id], clause
    sp = await client.service_principals.by_service_principal_id(created.service_principal.id).get()
    assert sp is not None and sp.app_id == app_id
    return sp


def user_role(sp: ServicePrincipal) -> uuid.UUID:
    """The template's `User` role, which the portal assigns by default."""
    return next(role.id for role in sp.app_roles if role.display_name == "User")


async def assign(client: GraphServiceClient, sp: ServicePrincipal, principal_id: str) -> None:
    assignment = AppRoleAssignment(
        principal_id=uuid.UUID(principal_id), resource_id=uuid.UUID(sp.id), app_role_id=user_role(sp)
    )
    created = await client.service_principals.by_service_principal_id(sp.id).app_role_assigned_to.post(assignment)
    assert created is not None and str(created.principal_id) == principal_id


async def configure_provisioning(client: GraphServiceClient, sp: ServicePrincipal, scim: ScimMock) -> str:
    """Provisioning → Automatic: the job from the app's template, the tenant URL and secret token,
    Test Connection (saved and given credentials), Start provisioning. Answers the job id."""
    sync = client.service_principals.by_service_principal_id(sp.id).synchronization
    templates = await sync.templates.get()
    assert templates is not None and [t.id for t in templates.value] == ["aWSSingleSignon"]
    job = await sync.jobs.post(SynchronizationJob(template_id=templates.value[0].id))
    assert job is not None and job.id and job.template_id == "aWSSingleSignon"
    jobs = await sync.jobs.get()
    assert jobs is not None and [j.id for j in jobs.value] == [job.id]
    schema = await sync.jobs.by_synchronization_job_id(job.id).schema.get()
    assert schema is not None and schema.synchronization_rules, "the template's mappings"
    credentials = [
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.BaseAddress, value=scim.endpoint),
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.SecretToken, value=scim.token),
    ]
    await sync.secrets.put(SecretsPutRequestBody(value=credentials))
    item = sync.jobs.by_synchronization_job_id(job.id)
    await item.validate_credentials.post(ValidateCredentialsPostRequestBody(use_saved_credentials=True))
    await item.validate_credentials.post(
        ValidateCredentialsPostRequestBody(
            application_identifier=sp.app_id,
            template_id=job.template_id,
            use_saved_credentials=False,
            credentials=credentials,
        )
    )
    await item.start.post()
    return job.id


async def provisioning_log(client: GraphServiceClient, clause: str) -> list[ProvisioningObjectSummary]:
    """`GET /auditLogs/provisioning?$filter=…`, newest first."""
    query = ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(filter=clause)
    page = await client.audit_logs.provisioning.get(RequestConfiguration(query_parameters=query))
    assert page is not None and page.value, f"no provisioning log entry for {clause}"
    return page.value


class Story:
    """The tutorial up to "40 minutes later", through the SDK."""

    def __init__(self, client: GraphServiceClient, graph: GraphMock, scim: ScimMock) -> None:
        self.client, self.graph, self.scim = client, graph, scim

    async def run(self) -> None:
        client = self.client
        self.sp = await instantiate_aws(client)
        self.annie = await create_user(client, f"annie@{self.graph.domain}", "Annie", "Easley")
        fetched = await client.users.by_user_id(self.annie.id).get()
        assert fetched is not None and (fetched.given_name, fetched.surname) == ("Annie", "Easley")
        listed = await client.users.get()
        assert listed is not None and [u.user_principal_name for u in listed.value] == [self.annie.user_principal_name]
        self.administrator = await create_group(client, "Administrator")
        self.sre = await create_group(client, "SRE")
        for group in [self.administrator, self.sre]:
            await add_member(client, self.graph, group, self.annie)
            await assign(client, self.sp, group.id)
        assigned = await client.service_principals.by_service_principal_id(self.sp.id).app_role_assigned_to.get()
        assert assigned is not None
        assert sorted(a.principal_display_name for a in assigned.value) == ["Administrator", "SRE"]
        self.job_id = await configure_provisioning(client, self.sp, self.scim)
        # "Nothing will happen for a bit, so put the kettle on."
        self.graph.advance("PT40M")

    def job(self):
        return self.client.service_principals.by_service_principal_id(self.sp.id).synchronization.jobs.by_synchronization_job_id(
            self.job_id
        )


def test_the_seed_tutorial_administrator_is_refused_and_sre_and_annie_succeed(
    graph_client: GraphServiceClient, graph_mock: GraphMock, scim_mock: ScimMock
) -> None:
    async def story() -> None:
        s = Story(graph_client, graph_mock, scim_mock)
        await s.run()

        refused = await provisioning_log(graph_client, "sourceIdentity/displayName eq 'Administrator'")
        for entry in refused:
            assert entry.source_identity.display_name == "Administrator"
            assert entry.provisioning_status_info.status == ProvisioningResult.Failure
            error = entry.provisioning_status_info.error_information
            assert error.error_code == "SystemForCrossDomainIdentityManagementBadRequest"
            # AWS's answer, quoted by the provisioning service (aws-scim.md §6.2).
            assert "HTTP 400" in error.reason, error.reason
            assert "Request is unparsable, syntactically incorrect, or violates schema." in error.reason, error.reason
        for clause in ["sourceIdentity/displayName eq 'SRE'", f"sourceIdentity/id eq '{s.annie.id}'"]:
            entries = await provisioning_log(graph_client, clause)
            assert {e.provisioning_status_info.status for e in entries} == {ProvisioningResult.Success}, clause

        aws = scim_mock.state()
        assert [u["userName"] for u in aws["users"]] == [s.annie.user_principal_name]
        assert [g["displayName"] for g in aws["groups"]] == ["SRE"]
        assert aws["groups"][0]["members"] == [aws["users"][0]["id"]]

        job = await s.job().get()
        assert job is not None and job.status.code.value == "Active"
        assert job.status.last_execution.state.value == "EntryLevelErrors"

        # Pause, then restart from scratch with the criteria the SDK models.
        await s.job().pause.post()
        paused = await s.job().get()
        assert paused.schedule.state.value == "Paused"
        criteria = SynchronizationJobRestartCriteria(reset_scope=SynchronizationJobRestartScope.Watermark)
        await s.job().restart.post(RestartPostRequestBody(criteria=criteria))
        restarted = await s.job().get()
        assert restarted.schedule.state.value == "Active"

    asyncio.run(story())


def test_provision_on_demand_joins_existing_aws_groups_only(
    graph_client: GraphServiceClient, graph_mock: GraphMock, scim_mock: ScimMock
) -> None:
    async def story() -> None:
        s = Story(graph_client, graph_mock, scim_mock)
        await s.run()
        # Bob joins SRE (in AWS since the first cycle), Administrator (refused by AWS) and a new
        # group, Platform, assigned after that cycle: AWS has never seen it.
        bob = await create_user(graph_client, f"bob@{graph_mock.domain}", "Bob", "Builder")
        platform = await create_group(graph_client, "Platform")
        await assign(graph_client, s.sp, platform.id)
        for group in [s.sre, s.administrator, platform]:
            await add_member(graph_client, graph_mock, group, bob)

        subject = SynchronizationJobSubject(object_id=bob.id, object_type_name="User")
        body = ProvisionOnDemandPostRequestBody(
            parameters=[SynchronizationJobApplicationParameters(rule_id=USER_RULE_ID, subjects=[subject])]
        )
        answer = await s.job().provision_on_demand.post(body)
        assert answer is not None and '"result":"Success"' in answer.key.replace(" ", ""), answer.key

        aws = scim_mock.state()
        users = {u["userName"]: u["id"] for u in aws["users"]}
        assert set(users) == {s.annie.user_principal_name, bob.user_principal_name}
        groups = {g["displayName"]: g["members"] for g in aws["groups"]}
        assert set(groups) == {"SRE"}, "on demand creates no group"
        assert sorted(groups["SRE"]) == sorted(users.values()), "and joins the existing one"

    asyncio.run(story())


def test_users_and_groups_delta_reach_a_delta_link_that_then_shows_the_changes(
    graph_client: GraphServiceClient, graph_mock: GraphMock
) -> None:
    async def story() -> None:
        client = graph_client
        annie = await create_user(client, f"annie@{graph_mock.domain}", "Annie", "Easley")
        sre = await create_group(client, "SRE")
        await add_member(client, graph_mock, sre, annie)

        # Users: a full round, page by page, to its deltaLink.
        page = await client.users.delta.get()
        seen = []
        while True:
            assert page is not None
            seen += [u.id for u in page.value]
            if page.odata_delta_link:
                break
            page = await client.users.delta.with_url(page.odata_next_link).get()
        assert seen == [annie.id]
        users_link = page.odata_delta_link
        assert users_link.startswith(graph_mock.url)

        # Groups: the same, with members.
        page = await client.groups.delta.get()
        assert page is not None and [g.display_name for g in page.value] == ["SRE"]
        # Kiota reads untyped GUIDs as `uuid.UUID`.
        assert [str(m["id"]) for m in page.value[0].additional_data["members@delta"]] == [annie.id]
        groups_link = page.odata_delta_link
        assert groups_link

        # Changes: Annie gets a job title; Bob arrives; Annie leaves SRE by `$ref` (`@id`), Bob joins.
        await client.users.by_user_id(annie.id).patch(User(job_title="Mathematician"))
        bob = await create_user(client, f"bob@{graph_mock.domain}", "Bob", "Builder")
        remove = RefRequestBuilder.RefRequestBuilderDeleteQueryParameters(
            id=f"{graph_mock.url}/v1.0/directoryObjects/{annie.id}"
        )
        await client.groups.by_group_id(sre.id).members.ref.delete(RequestConfiguration(query_parameters=remove))
        await add_member(client, graph_mock, sre, bob)

        # A caller may ask for changed properties only (microsoft-graph.md §4); the mock sends whole
        # objects, which the SDK reads the same way.
        minimal = RequestConfiguration(headers={"Prefer": "return=minimal"})
        changed = await client.users.delta.with_url(users_link).get(minimal)
        assert changed is not None
        by_id = {u.id: u for u in changed.value}
        assert set(by_id) == {annie.id, bob.id}
        assert by_id[annie.id].job_title == "Mathematician"
        assert changed.odata_delta_link

        changed = await client.groups.delta.with_url(groups_link).get()
        assert changed is not None and [g.id for g in changed.value] == [sre.id]
        delta = {str(m["id"]): m for m in changed.value[0].additional_data["members@delta"]}
        assert set(delta) == {annie.id, bob.id}
        assert "@removed" in delta[annie.id] and "@removed" not in delta[bob.id]

        # And the newest deltaLink has nothing more to say; Bob leaves by `…/{id}/$ref`.
        quiet = await client.groups.delta.with_url(changed.odata_delta_link).get()
        assert quiet is not None and quiet.value == []
        await client.groups.by_group_id(sre.id).members.by_directory_object_id(bob.id).ref.delete()
        members = await client.groups.by_group_id(sre.id).members.get()
        assert members is not None and members.value == []

    asyncio.run(story())


def test_a_filtered_counted_query_and_a_wrong_odata_type_are_answered_as_graph_answers(
    graph_client: GraphServiceClient, graph_mock: GraphMock
) -> None:
    async def story() -> None:
        client = graph_client
        annie = await create_user(client, f"annie@{graph_mock.domain}", "Annie", "Easley")
        # An advanced query: `$count=true`, `$filter`, `$select`, `$top`, `ConsistencyLevel: eventual`.
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="startsWith(displayName,'Annie')", count=True, select=["id", "displayName"], top=5
        )
        config = RequestConfiguration(query_parameters=query, headers={"ConsistencyLevel": "eventual"})
        page = await client.users.get(config)
        assert page is not None and page.odata_count == 1 and page.value[0].id == annie.id

        # A user that says it is a group.
        wrong = User(
            odata_type="#microsoft.graph.group",
            account_enabled=True,
            display_name="Bob",
            mail_nickname="bob",
            user_principal_name=f"bob@{graph_mock.domain}",
            password_profile=PasswordProfile(password="x-Password-1"),
        )
        with pytest.raises(ODataError) as refused:
            await client.users.post(wrong)
        assert refused.value.response_status_code == 400
        assert refused.value.error.code == "Request_BadRequest"
        assert "is not assignable to the expected type 'Microsoft.DirectoryServices.User'" in refused.value.error.message

    asyncio.run(story())


def test_a_manager_set_through_the_sdk_is_read_back_and_linked_in_aws(
    graph_client: GraphServiceClient, graph_mock: GraphMock, scim_mock: ScimMock
) -> None:
    async def story() -> None:
        client = graph_client
        sp = await instantiate_aws(client)
        annie = await create_user(client, f"annie@{graph_mock.domain}", "Annie", "Easley")
        boss = await create_user(client, f"boss@{graph_mock.domain}", "Boss", "Person")
        with pytest.raises(ODataError) as none:
            await client.users.by_user_id(annie.id).manager.get()
        assert none.value.response_status_code == 404
        assert none.value.error.code == "Request_ResourceNotFound"
        assert none.value.error.message == (
            "Resource 'manager' does not exist or one of its queried reference-property objects are not present."
        )

        # The docs' body: `@odata.id` of the manager under /users (user-post-manager.md).
        reference = ReferenceUpdate(odata_id=f"https://graph.microsoft.com/v1.0/users/{boss.id}")
        await client.users.by_user_id(annie.id).manager.ref.put(reference)
        manager = await client.users.by_user_id(annie.id).manager.get()
        # A directoryObject whose `@odata.type` makes the SDK build a User.
        assert isinstance(manager, User) and manager.id == boss.id
        assert manager.user_principal_name == boss.user_principal_name

        # The first cycle creates both in AWS, then links Annie to Boss's AWS id.
        for user in [annie, boss]:
            await assign(client, sp, user.id)
        await configure_provisioning(client, sp, scim_mock)
        graph_mock.advance("PT40M")
        aws = {u["userName"]: u for u in scim_mock.state()["users"]}
        extension = aws[annie.user_principal_name]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
        assert extension["manager"] == {"value": aws[boss.user_principal_name]["id"]}

        await client.users.by_user_id(annie.id).manager.ref.delete()
        with pytest.raises(ODataError) as removed:
            await client.users.by_user_id(annie.id).manager.get()
        assert removed.value.response_status_code == 404

    asyncio.run(story())
