"""Operators' management commands: create_tenant, create_api_key, seed_demo."""

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import PartnerAttributes
from partners.models import Partner
from tenancy.models import APIKey, Membership, Role, Tenant, TenantOwned, User, hash_token
from tenancy.scope import all_tenants
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SLUG_RULE = (
    "Use 3–40 lowercase Latin letters, digits and hyphens; start and end with a letter or digit."
)


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# create_tenant


def test_create_tenant_prints_the_generated_password(anon):
    out, _ = run(
        "create_tenant",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--owner-email",
        "Boss@Acme.test",
        "--currency",
        "USD",
        "--timezone",
        "America/Chicago",
        "--language",
        "en",
    )
    match = re.search(r"^Owner password \(shown once\): (\S+)$", out, re.MULTILINE)
    assert match is not None, out
    password = match[1]
    assert "Created program 'acme' (Acme)." in out
    assert "Owner: boss@acme.test" in out

    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.name, tenant.currency, tenant.timezone, tenant.language) == (
        "Acme",
        "USD",
        "America/Chicago",
        "en",
    )
    owner = User.objects.get(email="boss@acme.test")
    assert owner.check_password(password)
    with all_tenants():
        assert list(Membership.unscoped.filter(tenant=tenant).values_list("user", "role")) == [
            (owner.pk, Role.OWNER)
        ]
    # the printed password logs in
    response = anon.post("/accounts/login/", {"username": "boss@acme.test", "password": password})
    assert response.status_code == 302
    assert anon.get("/app/acme/").status_code == 200


def test_create_tenant_with_a_given_password_prints_none(db):
    out, _ = run(
        "create_tenant",
        slug="acme",
        name="Acme",
        owner_email="boss@acme.test",
        owner_password=PASSWORD,
    )
    assert "password" not in out.lower()
    assert User.objects.get(email="boss@acme.test").check_password(PASSWORD)


def test_create_tenant_for_an_existing_user_keeps_their_password(db):
    user = UserFactory(email="boss@acme.test")
    out, _ = run("create_tenant", slug="acme", name="Acme", owner_email="BOSS@acme.test")
    assert "password" not in out.lower()
    with all_tenants():
        user.refresh_from_db()
    assert user.check_password(PASSWORD)
    with all_tenants():
        assert Membership.unscoped.get(tenant__slug="acme").user_id == user.pk
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"slug": "Bad_Slug"}, f"slug: {SLUG_RULE}"),
        ({"slug": "ab"}, f"slug: {SLUG_RULE}"),
        ({"slug": "admin"}, "slug: This address is reserved; choose another."),
        (
            {"currency": "XYZ"},
            "currency: Unknown currency “XYZ”: use an ISO 4217 code such as RUB, USD or EUR.",
        ),
        (
            {"timezone": "Nowhere/Land"},
            "timezone: Unknown time zone “Nowhere/Land”: use an IANA name such as Europe/Moscow.",
        ),
        ({"owner_email": "not-an-email"}, "email: Enter a valid email address."),
        ({"name": "  "}, "name: Enter the company name."),
    ],
)
def test_create_tenant_bad_input_is_a_command_error_and_creates_nothing(options, message):
    arguments = {"slug": "acme", "name": "Acme", "owner_email": "boss@acme.test", **options}
    with pytest.raises(CommandError) as caught:
        run("create_tenant", **arguments)
    assert str(caught.value) == message
    assert Tenant.objects.count() == 0
    # not even the owner's account: a retry must be able to print a password again
    assert User.objects.count() == 0


def test_create_tenant_with_a_taken_slug(world_a):
    users = User.objects.count()
    with pytest.raises(CommandError) as caught:
        run("create_tenant", slug="a-program", name="Copy", owner_email="x@example.test")
    assert str(caught.value) == "slug: The address “a-program” is taken."
    assert User.objects.count() == users


def test_create_tenant_retry_after_a_bad_slug_prints_a_password(anon, db):
    with pytest.raises(CommandError):
        run("create_tenant", slug="admin", name="Acme", owner_email="boss@acme.test")
    out, _ = run("create_tenant", slug="acme", name="Acme", owner_email="boss@acme.test")
    shown = re.search(r"Owner password \(shown once\): (\S+)", out)
    assert shown is not None
    assert User.objects.get(email="boss@acme.test").check_password(shown[1])


def test_create_tenant_rejects_an_unknown_language_choice(db):
    with pytest.raises(CommandError, match="invalid choice: 'de'"):
        call_command("create_tenant", "--slug=acme", "--name=Acme", "--owner-email=a@b.test",
                     "--language=de")  # fmt: skip


# create_api_key


def test_create_api_key_prints_a_key_that_authenticates(world_a, world_b, client):
    out, err = run("create_api_key", "--tenant", "b-program", "--name", "Warehouse sync")
    secret = out.strip()
    assert re.fullmatch(r"pf_live_[A-Za-z0-9_-]{43}", secret)
    assert "Key 'Warehouse sync' for b-program; it is shown once, store it now:" in err

    with all_tenants():
        key = APIKey.unscoped.get(name="Warehouse sync")
    assert key.tenant_id == world_b.tenant.pk
    assert key.key_hash == hash_token(secret)
    assert key.created_by is None
    response = client.get("/api/v1/program", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["slug"] == "b-program"


def test_create_api_key_for_an_unknown_tenant(world_a):
    with all_tenants():
        keys = APIKey.unscoped.count()
    with pytest.raises(CommandError) as caught:
        run("create_api_key", "--tenant", "nope", "--name", "X")
    assert str(caught.value) == "No program with the address 'nope'."
    with all_tenants():
        assert APIKey.unscoped.count() == keys


def test_create_api_key_with_an_empty_name(world_a):
    with all_tenants():
        keys = APIKey.unscoped.count()
    with pytest.raises(CommandError) as caught:
        run("create_api_key", "--tenant", "a-program", "--name", "  ")
    assert str(caught.value) == "name: Name the key, e.g. “Shop backend”."
    with all_tenants():
        assert APIKey.unscoped.count() == keys


# seed_demo

DEMO_OPTIONS = ("--partners", "8", "--quiet")


def demo_counts() -> dict[str, int]:
    """Rows of every tenant-owned table in the demo program, plus the user accounts."""
    demo = Tenant.objects.get(slug="demo")
    counts = {"tenants": Tenant.objects.filter(slug="demo").count(), "users": User.objects.count()}
    for model in apps.get_models():
        if issubclass(model, TenantOwned):
            with all_tenants():
                counts[model._meta.label] = model.unscoped.filter(tenant=demo).count()
    return counts


def test_seed_demo_is_idempotent(anon, db):
    first, _ = run("seed_demo", *DEMO_OPTIONS)
    assert "Demo program created:" in first
    counts = demo_counts()
    assert counts["tenants"] == 1
    assert counts["tenancy.Membership"] == 3
    assert counts["partners.Partner"] == 8

    # The dashboard's cubes count each partner in the segment the demo's runs gave it.
    with all_tenants():
        attributes = dict(PartnerAttributes.unscoped.values_list("partner_id", "activity_segment"))
        segments = dict(
            Partner.unscoped.filter(tenant__slug="demo").values_list("pk", "activity_segment")
        )
    assert attributes == segments
    assert len(set(attributes.values()) - {""}) >= 2

    second, _ = run("seed_demo", *DEMO_OPTIONS)
    assert "The demo program already exists (use --reset to rebuild it)." in second
    assert demo_counts() == counts
    with all_tenants():
        assert sorted(
            Membership.unscoped.filter(tenant__slug="demo").values_list("user__email", "role")
        ) == [
            ("analyst@demo.partnerflow.local", "analyst"),
            ("manager@demo.partnerflow.local", "manager"),
            ("owner@demo.partnerflow.local", "owner"),
        ]

    # the printed logins work
    assert "owner@demo.partnerflow.local / partnerflow-demo" in second
    response = anon.post(
        "/accounts/login/",
        {"username": "owner@demo.partnerflow.local", "password": "partnerflow-demo"},
    )
    assert response.status_code == 302
    assert anon.get("/app/demo/").status_code == 200
    partner = type(anon)()
    response = partner.post(
        "/p/demo/login/",
        {"username": "partner@demo.partnerflow.local", "password": "partnerflow-demo"},
    )
    assert response["Location"] == "/p/demo/"
    assert partner.get("/p/demo/").status_code == 200


def _demo_fingerprint() -> dict:
    """What the demo is made of, without the times (relative to when it runs)."""
    from django.db.models import Count, Sum

    from partners.models import Conversion

    demo = Tenant.objects.get(slug="demo")
    with all_tenants():
        partners = sorted(
            Partner.unscoped.filter(tenant=demo).values_list(
                "email", "channel_type", "geography_tier", "partner_type", "status"
            )
        )
        conversions = sorted(
            Conversion.unscoped.filter(tenant=demo)
            .values_list("partner__email", "kind")
            .annotate(n=Count("id"), total=Sum("amount"), refunded=Sum("refunded_amount"))
        )
    return {"partners": partners, "conversions": conversions}


# Committed: --reset deletes the program as the tables' owner, on a connection of its own
# (seed_demo._delete), which must see the program the first run made.
@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_deterministic_by_seed():
    run("seed_demo", "--partners", "12", "--seed", "5", "--quiet")
    first = _demo_fingerprint()
    run("seed_demo", "--partners", "12", "--seed", "5", "--reset", "--quiet")
    assert _demo_fingerprint() == first
    run("seed_demo", "--partners", "12", "--seed", "6", "--reset", "--quiet")
    assert _demo_fingerprint() != first


def test_seed_demo_has_the_skew_of_a_real_program(db):
    """A few partners bring most of the revenue, many never sell, some refunds (seed 000)."""
    from django.db.models import F, Sum

    from partners.models import Conversion

    run("seed_demo", "--partners", "150", "--seed", "11", "--quiet")
    demo = Tenant.objects.get(slug="demo")
    with all_tenants():
        revenue = dict(
            Conversion.unscoped.filter(tenant=demo, kind="sale", partner__isnull=False)
            .values_list("partner_id")
            .annotate(total=Sum(F("amount") - F("refunded_amount")))
        )
        partners = Partner.unscoped.filter(tenant=demo).count()
    totals = sorted(revenue.values(), reverse=True)
    top_fifth = sum(totals[: partners // 5])
    assert top_fifth > sum(totals) * Decimal("0.6")  # the top 20 % bring over 60 %
    assert partners - len(revenue) > partners * 0.3  # over 30 % never sold
    with all_tenants():
        assert Conversion.unscoped.filter(tenant=demo, refunded_amount__gt=0).exists()
