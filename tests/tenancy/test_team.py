"""The team: invitations (sent through a real local SMTP server), accepting them, roles."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ServiceError
from tenancy import services
from tenancy.models import Invitation, Membership, Role, User, hash_token
from tenancy.scope import all_tenants, tenant_scope
from tenancy.tasks import invitation_send, invitations_expire
from tests.factories import PASSWORD, MembershipFactory
from tests.tenancy.helpers import (
    accept_token_from,
    blocked_backends,
    field_errors,
    open_invitation,
)
from tests.waiting import WAIT_SECONDS, wait_until

pytestmark = pytest.mark.django_db

TEAM = "/app/a-program/team/"


def team_state(tenant) -> dict:
    """Everything a team action may change, to show that a refused one changed nothing."""
    with all_tenants():
        return {
            "members": sorted(
                Membership.unscoped.filter(tenant=tenant).values_list("pk", "user_id", "role")
            ),
            "invitations": sorted(
                Invitation.unscoped.filter(tenant=tenant).values_list(
                    "pk", "email", "role", "token_hash", "sent_at", "accepted_at", "revoked_at"
                )
            ),
            "users": User.objects.count(),
        }


def invite(client, capture, *, email: str, role: str = "manager"):
    with capture(execute=True) as callbacks:
        response = client.post(TEAM, {"email": email, "role": role})
    return response, callbacks


# Inviting


def test_owner_invites_and_the_email_arrives_with_the_accept_link(
    world_a, smtp_server, django_capture_on_commit_callbacks
):
    owner = world_a.client_for(world_a.owner)
    response, callbacks = invite(
        owner, django_capture_on_commit_callbacks, email=" New.Person@Example.test ", role="analyst"
    )

    assert response.status_code == 302
    assert response["Location"] == TEAM
    assert len(callbacks) == 1
    messages = smtp_server.wait_for(1)
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "new.person@example.test"
    assert message["From"] == "Partnerflow <no-reply@partnerflow.local>"
    assert message["Subject"] == "You are invited to Aardvark Program A on Partnerflow"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert (
        "Aardvark Owner invites you to the Aardvark Program A partner program team as Analyst."
        in text
    )
    token = accept_token_from(message)
    link = f"http://127.0.0.1:8000/invite/{token}/"
    assert link in text
    assert f'href="{link}"' in message.get_body(preferencelist=("html",)).get_content()

    with all_tenants():
        invitation = Invitation.unscoped.get(email="new.person@example.test")
    assert invitation.tenant_id == world_a.tenant.pk
    assert invitation.role == Role.ANALYST
    assert invitation.invited_by_id == world_a.owner.pk
    assert invitation.sent_at is not None
    assert invitation.accepted_at is None
    assert invitation.revoked_at is None
    # Only the token's hash is stored; the raw token exists only in the email.
    assert invitation.token_hash == hash_token(token)
    assert len(token) >= 40
    with all_tenants():
        assert not Invitation.unscoped.filter(token_hash=token).exists()
    expected_expiry = invitation.created_at + timedelta(days=7)
    assert abs((invitation.expires_at - expected_expiry).total_seconds()) < 5

    page = owner.get(TEAM)
    html = page.content.decode()
    assert "Invitation sent to new.person@example.test." in html
    assert [i.email for i in page.context["invitations"]] == [
        "new.person@example.test",
        "invitee@a-aardvark.test",
    ]


def test_the_emailed_link_opens_the_accept_page(
    world_a, smtp_server, anon, django_capture_on_commit_callbacks
):
    owner = world_a.client_for(world_a.owner)
    invite(owner, django_capture_on_commit_callbacks, email="join@example.test", role="manager")
    token = accept_token_from(smtp_server.wait_for(1)[0])

    response = anon.get(f"/invite/{token}/")
    assert response.status_code == 200
    assert response.context["invitation"].email == "join@example.test"
    assert "This invitation is for join@example.test, as Manager." in response.content.decode()


def test_inviting_an_existing_member_is_refused_on_the_email_field(
    world_a, smtp_server, django_capture_on_commit_callbacks
):
    before = team_state(world_a.tenant)
    response, callbacks = invite(
        world_a.client_for(world_a.owner),
        django_capture_on_commit_callbacks,
        email="MANAGER@a-aardvark.test",
    )
    assert response.status_code == 400
    assert field_errors(response.context["form"]) == {
        "email": ["manager@a-aardvark.test is already on the team."]
    }
    assert callbacks == []
    assert smtp_server.messages == []
    assert team_state(world_a.tenant) == before


def test_inviting_a_member_of_another_program_is_allowed(
    world_a, world_b, smtp_server, django_capture_on_commit_callbacks
):
    response, _ = invite(
        world_a.client_for(world_a.owner),
        django_capture_on_commit_callbacks,
        email="owner@b-zebra.test",
    )
    assert response.status_code == 302
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["owner@b-zebra.test"]
    with all_tenants():
        assert Invitation.unscoped.get(email="owner@b-zebra.test").tenant_id == world_a.tenant.pk


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"email": "not-an-email", "role": "manager"}, {"email": ["Enter a valid email address."]}),
        (
            {"email": "x@example.test", "role": "boss"},
            {"role": ["Select a valid choice. boss is not one of the available choices."]},
        ),
        ({"email": "", "role": "manager"}, {"email": ["This field is required."]}),
    ],
)
def test_invite_form_errors(world_a, data, errors, django_capture_on_commit_callbacks):
    before = team_state(world_a.tenant)
    with django_capture_on_commit_callbacks() as callbacks:
        response = world_a.client_for(world_a.owner).post(TEAM, data)
    assert response.status_code == 400
    assert field_errors(response.context["form"]) == errors
    assert callbacks == []
    assert team_state(world_a.tenant) == before


def test_a_new_invitation_replaces_the_open_one_for_the_same_address(
    world_a, smtp_server, django_capture_on_commit_callbacks
):
    old = world_a.invitation
    response, _ = invite(
        world_a.client_for(world_a.owner),
        django_capture_on_commit_callbacks,
        email="Invitee@a-aardvark.test",
        role="manager",
    )
    assert response.status_code == 302
    with all_tenants():
        old.refresh_from_db()
    assert old.revoked_at is not None
    with all_tenants():
        open_ones = list(
            Invitation.unscoped.filter(
                email="invitee@a-aardvark.test", accepted_at=None, revoked_at=None
            )
        )
    assert [(i.role, i.sent_at is not None) for i in open_ones] == [("manager", True)]


def test_invitation_send_twice_sends_one_email(world_a, smtp_server):
    invitation = world_a.invitation
    invitation_send(world_a.tenant.pk, invitation.pk)
    invitation_send(world_a.tenant.pk, invitation.pk)
    # Eager tasks run inline: both runs are over, and the second found the claim taken.
    assert len(smtp_server.messages) == 1
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.token_hash == hash_token(accept_token_from(smtp_server.messages[0]))


def test_invitation_send_for_a_closed_invitation_sends_nothing(world_a, smtp_server):
    with all_tenants():
        Invitation.unscoped.filter(pk=world_a.invitation.pk).update(revoked_at=timezone.now())
    invitation_send(world_a.tenant.pk, world_a.invitation.pk)
    assert smtp_server.messages == []
    with all_tenants():
        assert Invitation.unscoped.get(pk=world_a.invitation.pk).sent_at is None


def test_invitation_send_with_the_mail_server_down_releases_the_claim(world_a, settings):
    # Nothing listens on this port: the send fails and the claim is undone for the retry.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    with pytest.raises(ConnectionRefusedError):
        invitation_send.run(world_a.tenant.pk, world_a.invitation.pk)
    with all_tenants():
        invitation = Invitation.unscoped.get(pk=world_a.invitation.pk)
    assert (invitation.sent_at, invitation.token_hash) == (None, None)


def test_invitations_expire_closes_only_expired_open_ones(world_a, world_b):
    past = timezone.now() - timedelta(minutes=1)
    with all_tenants():
        Invitation.unscoped.filter(pk=world_b.invitation.pk).update(expires_at=past)
    assert invitations_expire() == 1
    with all_tenants():
        assert Invitation.unscoped.get(pk=world_b.invitation.pk).revoked_at is not None
        assert Invitation.unscoped.get(pk=world_a.invitation.pk).revoked_at is None


# Accepting


def test_accept_as_a_new_user(world_a, anon):
    invitation, token = open_invitation(world_a, email="newbie@example.test", role="analyst")

    page = anon.get(f"/invite/{token}/")
    assert page.status_code == 200
    assert set(page.context["form"].fields) == {"full_name", "password"}
    assert "This invitation is for newbie@example.test, as Analyst." in page.content.decode()

    response = anon.post(f"/invite/{token}/", {"full_name": "New Bie", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/app/a-program/"
    user = User.objects.get(email="newbie@example.test")
    assert user.full_name == "New Bie"
    assert user.check_password(PASSWORD)
    assert int(anon.session["_auth_user_id"]) == user.pk
    with all_tenants():
        assert list(Membership.unscoped.filter(user=user).values_list("tenant__slug", "role")) == [
            ("a-program", Role.ANALYST)
        ]
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    dashboard = anon.get("/app/a-program/")
    assert dashboard.status_code == 200
    assert "Welcome to Aardvark Program A." in dashboard.content.decode()
    # the link worked once
    again = anon.get(f"/invite/{token}/")
    assert again.status_code == 410
    assert again.context["reason"] == "This invitation has already been used."


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"full_name": "New Bie", "password": "123"},
            {
                "password": [
                    "This password is too short. It must contain at least 8 characters. "
                    "This password is too common. This password is entirely numeric."
                ]
            },
        ),
        ({"full_name": "", "password": PASSWORD}, {"full_name": ["This field is required."]}),
        ({"full_name": "New Bie", "password": ""}, {"password": ["This field is required."]}),
    ],
)
def test_accept_as_a_new_user_with_bad_input_changes_nothing(world_a, anon, data, errors):
    _, token = open_invitation(world_a, email="newbie@example.test")
    before = team_state(world_a.tenant)
    response = anon.post(f"/invite/{token}/", data)
    assert response.status_code == 200
    assert field_errors(response.context["form"]) == errors
    assert team_state(world_a.tenant) == before
    assert not User.objects.filter(email="newbie@example.test").exists()
    assert "_auth_user_id" not in anon.session


def test_accept_as_the_logged_in_user_with_the_same_email(world_a, world_b, client):
    invitation, token = open_invitation(world_a, email="Owner@B-Zebra.test", role="manager")
    client.force_login(world_b.owner)

    page = client.get(f"/invite/{token}/")
    assert page.status_code == 200
    assert page.context["form"] is None
    response = client.post(f"/invite/{token}/")

    assert response.status_code == 302
    assert response["Location"] == "/app/a-program/"
    with all_tenants():
        assert sorted(
            Membership.unscoped.filter(user=world_b.owner).values_list("tenant__slug", "role")
        ) == [("a-program", Role.MANAGER), ("b-program", Role.OWNER)]
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert client.get("/app/a-program/").status_code == 200


def test_a_different_logged_in_user_is_refused(world_a, world_b, client):
    _, token = open_invitation(world_a, email="someone@example.test")
    client.force_login(world_b.owner)
    before = team_state(world_a.tenant)

    response = client.post(f"/invite/{token}/")

    assert response.status_code == 200
    expected = (
        "This invitation is for someone@example.test; you are logged in as owner@b-zebra.test."
    )
    assert response.context["error_message"] == expected
    assert expected in response.content.decode()
    assert team_state(world_a.tenant) == before
    with all_tenants():
        assert not Membership.unscoped.filter(tenant=world_a.tenant, user=world_b.owner).exists()


def test_an_anonymous_visitor_whose_email_has_an_account_must_log_in(world_a, world_b, anon):
    _, token = open_invitation(world_a, email="owner@b-zebra.test")
    before = team_state(world_a.tenant)
    response = anon.post(
        f"/invite/{token}/", {"full_name": "Imposter", "password": "imposter-password-1"}
    )
    assert response.status_code == 200
    assert response.context["error_message"] == (
        "An account with this email exists: log in first, then open the link again."
    )
    assert team_state(world_a.tenant) == before
    with all_tenants():
        world_b.owner.refresh_from_db()
    assert world_b.owner.full_name == "Zebra Owner"
    assert world_b.owner.check_password(PASSWORD)
    assert "_auth_user_id" not in anon.session


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"expires_at": timezone.now() - timedelta(seconds=1)},
            "This invitation has expired. Ask the program owner for a new one.",
        ),
        ({"accepted_at": timezone.now()}, "This invitation has already been used."),
        ({"revoked_at": timezone.now()}, "This invitation was withdrawn."),
    ],
    ids=["expired", "used", "revoked"],
)
def test_closed_invitation_shows_its_message_and_changes_nothing(world_a, anon, change, message):
    invitation, token = open_invitation(world_a, email="late@example.test")
    with all_tenants():
        Invitation.unscoped.filter(pk=invitation.pk).update(**change)
    before = team_state(world_a.tenant)

    for response in (
        anon.get(f"/invite/{token}/"),
        anon.post(f"/invite/{token}/", {"full_name": "Late", "password": PASSWORD}),
    ):
        assert response.status_code == 410
        assert response.context["reason"] == message
        assert f'<p class="card narrow" data-testid="invitation-error">{message}</p>' in (
            response.content.decode()
        )
    assert team_state(world_a.tenant) == before
    assert not User.objects.filter(email="late@example.test").exists()


def test_unknown_token_is_404(world_a, anon):
    response = anon.get("/invite/not-a-real-token/")
    assert response.status_code == 404
    assert response.context["reason"] == "This invitation link is not valid."


def test_the_token_of_one_program_never_opens_anothers(world_a, world_b, client):
    # The token decides the program: B's owner accepting A's link joins A, and only A.
    _, token = open_invitation(world_b, email="owner@a-aardvark.test", role="analyst")
    client.force_login(world_a.owner)
    response = client.post(f"/invite/{token}/")
    assert response["Location"] == "/app/b-program/"
    with all_tenants():
        assert Membership.unscoped.get(tenant=world_b.tenant, user=world_a.owner).role == "analyst"
        assert Membership.unscoped.get(tenant=world_a.tenant, user=world_a.owner).role == "owner"


# Resending and withdrawing


def test_resend_rotates_the_token(world_a, smtp_server, anon, django_capture_on_commit_callbacks):
    owner = world_a.client_for(world_a.owner)
    invite(owner, django_capture_on_commit_callbacks, email="resend@example.test")
    first_token = accept_token_from(smtp_server.wait_for(1)[0])
    with all_tenants():
        invitation = Invitation.unscoped.get(email="resend@example.test")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(f"/app/a-program/invitations/{invitation.pk}/resend/")

    assert response.status_code == 302
    assert response["Location"] == TEAM
    messages = smtp_server.wait_for(2)
    assert [m["To"] for m in messages] == ["resend@example.test", "resend@example.test"]
    second_token = accept_token_from(messages[1])
    assert second_token != first_token
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.token_hash == hash_token(second_token)
    assert invitation.sent_at is not None
    assert anon.get(f"/invite/{first_token}/").status_code == 404
    assert anon.get(f"/invite/{second_token}/").status_code == 200
    assert "Invitation sent again to resend@example.test." in owner.get(TEAM).content.decode()


def test_resend_extends_an_expired_invitation(
    world_a, smtp_server, anon, django_capture_on_commit_callbacks
):
    invitation, old_token = open_invitation(world_a, email="slow@example.test")
    with all_tenants():
        Invitation.unscoped.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(days=1)
        )
    with django_capture_on_commit_callbacks(execute=True):
        world_a.client_for(world_a.owner).post(
            f"/app/a-program/invitations/{invitation.pk}/resend/"
        )
    token = accept_token_from(smtp_server.wait_for(1)[0])
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert anon.get(f"/invite/{token}/").status_code == 200
    assert anon.get(f"/invite/{old_token}/").status_code == 404


def test_resend_of_a_closed_invitation_is_refused(world_a, smtp_server, client):
    invitation, _ = open_invitation(world_a, email="done@example.test")
    with all_tenants():
        Invitation.unscoped.filter(pk=invitation.pk).update(accepted_at=timezone.now())
    before = team_state(world_a.tenant)
    client.force_login(world_a.owner)
    response = client.post(f"/app/a-program/invitations/{invitation.pk}/resend/", follow=True)
    assert response.status_code == 200
    assert "This invitation is closed." in response.content.decode()
    assert team_state(world_a.tenant) == before
    assert smtp_server.messages == []


def test_revoke_withdraws_the_invitation(world_a, anon, client):
    invitation, token = open_invitation(world_a, email="gone@example.test")
    client.force_login(world_a.owner)
    response = client.post(f"/app/a-program/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == TEAM
    with all_tenants():
        invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    link = anon.get(f"/invite/{token}/")
    assert link.status_code == 410
    assert link.context["reason"] == "This invitation was withdrawn."
    page = client.get(TEAM)
    assert "Invitation to gone@example.test withdrawn." in page.content.decode()
    assert "gone@example.test" not in [i.email for i in page.context["invitations"]]


# Roles and removal


def test_owner_changes_a_role(world_a, client):
    client.force_login(world_a.owner)
    manager = world_a.memberships["manager"]
    response = client.post(f"/app/a-program/team/{manager.pk}/role/", {"role": "analyst"})
    assert response.status_code == 302
    assert response["Location"] == TEAM
    with all_tenants():
        assert Membership.unscoped.get(pk=manager.pk).role == Role.ANALYST
    assert "Role of Aardvark Manager changed." in client.get(TEAM).content.decode()


def test_an_unknown_role_is_refused(world_a, client):
    client.force_login(world_a.owner)
    manager = world_a.memberships["manager"]
    response = client.post(
        f"/app/a-program/team/{manager.pk}/role/", {"role": "superuser"}, follow=True
    )
    assert "Choose a role." in response.content.decode()
    with all_tenants():
        assert Membership.unscoped.get(pk=manager.pk).role == Role.MANAGER


def test_the_last_owner_cannot_be_demoted(world_a, client):
    client.force_login(world_a.owner)
    owner = world_a.memberships["owner"]
    before = team_state(world_a.tenant)
    response = client.post(
        f"/app/a-program/team/{owner.pk}/role/", {"role": "manager"}, follow=True
    )
    assert response.status_code == 200
    assert "A program needs at least one owner." in response.content.decode()
    assert team_state(world_a.tenant) == before


def test_the_last_owner_cannot_be_removed(world_a, client):
    client.force_login(world_a.owner)
    owner = world_a.memberships["owner"]
    before = team_state(world_a.tenant)
    response = client.post(f"/app/a-program/team/{owner.pk}/remove/", follow=True)
    assert response.status_code == 200
    assert "A program needs at least one owner." in response.content.decode()
    assert team_state(world_a.tenant) == before


def test_with_two_owners_one_may_step_down(world_a, client):
    client.force_login(world_a.owner)
    manager, owner = world_a.memberships["manager"], world_a.memberships["owner"]
    client.post(f"/app/a-program/team/{manager.pk}/role/", {"role": "owner"})
    response = client.post(f"/app/a-program/team/{owner.pk}/role/", {"role": "analyst"})
    assert response.status_code == 302
    with all_tenants():
        assert sorted(
            Membership.unscoped.filter(tenant=world_a.tenant).values_list("user__email", "role")
        ) == [
            ("analyst@a-aardvark.test", "analyst"),
            ("manager@a-aardvark.test", "owner"),
            ("owner@a-aardvark.test", "analyst"),
        ]
    # the former owner lost the owner's pages at once
    assert client.get("/app/a-program/api-keys/").status_code == 403


def test_owner_removes_a_member(world_a, client):
    client.force_login(world_a.owner)
    manager = world_a.memberships["manager"]
    response = client.post(f"/app/a-program/team/{manager.pk}/remove/")
    assert response.status_code == 302
    with all_tenants():
        assert not Membership.unscoped.filter(pk=manager.pk).exists()
    assert User.objects.filter(pk=world_a.manager.pk).exists()
    assert "Aardvark Manager was removed from the team." in client.get(TEAM).content.decode()
    # the removed manager is out of the program
    assert world_a.client_for(world_a.manager).get("/app/a-program/").status_code == 404


OWNER_ACTIONS = [
    ("invite", lambda w: (TEAM, {"email": "sneaky@example.test", "role": "owner"})),
    ("role", lambda w: (f"{TEAM}{w.memberships['analyst'].pk}/role/", {"role": "owner"})),
    ("remove", lambda w: (f"{TEAM}{w.memberships['owner'].pk}/remove/", {})),
    ("revoke", lambda w: (f"/app/a-program/invitations/{w.invitation.pk}/revoke/", {})),
    ("resend", lambda w: (f"/app/a-program/invitations/{w.invitation.pk}/resend/", {})),
]


@pytest.mark.parametrize("role", ["manager", "analyst"])
@pytest.mark.parametrize(
    ("action", "request_for"), OWNER_ACTIONS, ids=[a for a, _ in OWNER_ACTIONS]
)
def test_non_owners_get_403_on_owner_actions_and_nothing_changes(
    world_a, role, action, request_for, django_capture_on_commit_callbacks
):
    client = world_a.client_for(getattr(world_a, role))
    url, data = request_for(world_a)
    before = team_state(world_a.tenant)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, data)
    assert response.status_code == 403
    expected = (
        "Only owners can invite people."
        if action == "invite"
        else "Your role in this program does not allow this."
    )
    assert expected in response.content.decode()
    assert callbacks == []
    assert team_state(world_a.tenant) == before


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_non_owners_see_the_team_without_owner_controls(world_a, role):
    response = world_a.client_for(getattr(world_a, role)).get(TEAM)
    assert response.status_code == 200
    html = response.content.decode()
    assert "owner@a-aardvark.test" in html
    assert "Send invitation" not in html
    assert "/remove/" not in html
    assert "/role/" not in html


def test_an_owner_cannot_touch_another_programs_team(world_a, world_b, client):
    client.force_login(world_a.owner)
    before = team_state(world_b.tenant)
    b_manager = world_b.memberships["manager"]
    assert (
        client.post(f"/app/a-program/team/{b_manager.pk}/role/", {"role": "analyst"}).status_code
        == 404
    )
    assert client.post(f"/app/a-program/team/{b_manager.pk}/remove/").status_code == 404
    assert (
        client.post(f"/app/a-program/invitations/{world_b.invitation.pk}/revoke/").status_code
        == 404
    )
    assert client.post(f"/app/b-program/team/{b_manager.pk}/remove/").status_code == 404
    assert team_state(world_b.tenant) == before


# The last-owner rule holds under concurrency too.


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(world_a):
    """Both requests see two owners when they start; the second must wait for the first and
    then refuse, or the program would be left without an owner."""
    second_owner = MembershipFactory(tenant=world_a.tenant, user__email="co@a.test", role="owner")
    first_owner = world_a.memberships["owner"]
    outcome: dict = {}

    def demote_the_other() -> None:
        try:
            with tenant_scope(world_a.tenant):
                services.membership_change_role(membership=second_owner, role=Role.MANAGER)
        except ServiceError as error:
            outcome["error"] = (error.field, error.message)
        else:
            outcome["error"] = None
        finally:
            connection.close()

    with transaction.atomic(), tenant_scope(world_a.tenant):
        services.membership_change_role(membership=first_owner, role=Role.MANAGER)
        thread = threading.Thread(target=demote_the_other)
        thread.start()
        wait_until(lambda: blocked_backends() > 0 or not thread.is_alive(), interval=0.05)
    thread.join(timeout=WAIT_SECONDS)

    assert outcome == {"error": ("role", "A program needs at least one owner.")}
    with all_tenants():
        assert sorted(
            Membership.unscoped.filter(tenant=world_a.tenant, role="owner").values_list(
                "user__email", flat=True
            )
        ) == ["co@a.test"]


def test_membership_service_errors(world_a):
    with tenant_scope(world_a.tenant):
        with pytest.raises(ServiceError) as caught:
            services.membership_change_role(membership=world_a.memberships["manager"], role="x")
        assert (caught.value.field, caught.value.message) == ("role", "Unknown role “x”.")
        with pytest.raises(ServiceError) as caught:
            services.membership_remove(membership=world_a.memberships["owner"])
        assert (caught.value.field, caught.value.message) == (
            "membership",
            "A program needs at least one owner.",
        )
        with pytest.raises(ServiceError) as caught:
            services.invitation_create(
                tenant=world_a.tenant,
                email="x@example.test",
                role="boss",
                invited_by=world_a.memberships["owner"].user,
            )
        assert (caught.value.field, caught.value.message) == ("role", "Unknown role “boss”.")
