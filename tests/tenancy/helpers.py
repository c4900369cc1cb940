"""Helpers shared by the tenancy tests (fixtures are in conftest.py)."""

import re

from django.db import connections

from tenancy import services
from tenancy.models import Invitation
from tenancy.scope import all_tenants, tenant_scope


def field_errors(form) -> dict[str, list[str]]:
    """A bound form's errors as plain strings, keyed by field ("__all__" for the form's own)."""
    return {name: list(errors) for name, errors in form.errors.items()}


def open_invitation(world, *, email: str, role: str = "manager") -> tuple[Invitation, str]:
    """An invitation created by the world's owner and claimed for sending, so that its raw token
    is known without going through email. Returns the invitation (fresh from the DB) and token."""
    with tenant_scope(world.tenant):
        invitation = services.invitation_create(
            tenant=world.tenant, email=email, role=role, invited_by=world.owner
        )
        raw = services.invitation_claim_for_sending(invitation=invitation)
    assert raw is not None
    with all_tenants():
        return Invitation.unscoped.get(pk=invitation.pk), raw


ACCEPT_LINK = re.compile(r"http://[^/\s]+/invite/(?P<token>[A-Za-z0-9_-]+)/")


def accept_token_from(message) -> str:
    """The raw invitation token in an email's plain-text body."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = ACCEPT_LINK.search(body)
    assert match is not None, body
    return match["token"]


def blocked_backends() -> int:
    """How many connections to the test database wait for a lock right now."""
    with connections["default"].cursor() as cursor:
        # Inside a transaction PostgreSQL keeps serving its first statistics snapshot.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
