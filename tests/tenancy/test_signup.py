"""Creating a program: the /signup/ page and the tenant_create service."""

import threading

import pytest
from django.db import connection, transaction

from core.errors import ConflictError, ServiceError
from tenancy import services
from tenancy.models import Membership, Role, Tenant, User
from tenancy.scope import all_tenants
from tests.factories import PASSWORD, TenantFactory, UserFactory
from tests.tenancy.helpers import blocked_backends, field_errors
from tests.waiting import WAIT_SECONDS, wait_until

pytestmark = pytest.mark.django_db

SLUG_RULE = (
    "Use 3–40 lowercase Latin letters, digits and hyphens; start and end with a letter or digit."
)


def signup_data(**overrides) -> dict:
    data = {
        "name": "Acme Shop",
        "slug": "acme",
        "currency": "USD",
        "timezone": "America/New_York",
        "language": "en",
        "country": "US",
        "full_name": "Ada Founder",
        "email": "ada@acme.test",
        "password": PASSWORD,
    }
    data.update(overrides)
    return data


def test_signup_page_shows_both_forms_to_a_visitor(anon):
    response = anon.get("/signup/")
    assert response.status_code == 200
    assert set(response.context["form"].fields) == {
        "name",
        "slug",
        "currency",
        "timezone",
        "language",
        "website_url",
        "country",
    }
    assert set(response.context["account_form"].fields) == {"full_name", "email", "password"}


def test_visitor_creates_a_program_and_becomes_its_logged_in_owner(anon):
    response = anon.post("/signup/", signup_data())

    assert response.status_code == 302
    assert response["Location"] == "/app/acme/"
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.name, tenant.currency, tenant.timezone, tenant.language, tenant.country) == (
        "Acme Shop",
        "USD",
        "America/New_York",
        "en",
        "US",
    )
    user = User.objects.get(email="ada@acme.test")
    assert user.full_name == "Ada Founder"
    assert user.check_password(PASSWORD)
    with all_tenants():
        assert list(Membership.unscoped.filter(tenant=tenant).values_list("user", "role")) == [
            (user.pk, Role.OWNER)
        ]
    assert int(anon.session["_auth_user_id"]) == user.pk

    dashboard = anon.get("/app/acme/")
    assert dashboard.status_code == 200
    assert dashboard.context["tenant"] == tenant
    assert dashboard.context["membership"].role == Role.OWNER
    assert "Your program “Acme Shop” is ready." in dashboard.content.decode()


def test_signup_normalises_the_email(anon):
    response = anon.post("/signup/", signup_data(email="Ada@ACME.test"))
    assert response.status_code == 302
    assert User.objects.get().email == "ada@acme.test"


def test_uppercase_slug_is_stored_lowercase(anon):
    # The service lowercases the address before validating it (documented in the report).
    response = anon.post("/signup/", signup_data(slug="Acme-Shop"))
    assert response.status_code == 302
    assert response["Location"] == "/app/acme-shop/"
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["acme-shop"]


def test_logged_in_user_creates_a_second_program(world_a, client):
    client.force_login(world_a.owner)
    users_before = User.objects.count()
    response = client.get("/signup/")
    assert response.status_code == 200
    assert response.context["account_form"] is None
    assert "You will own this program as owner@a-aardvark.test." in response.content.decode()

    response = client.post(
        "/signup/",
        {
            "name": "Second Shop",
            "slug": "second",
            "country": "RU",
            "currency": "EUR",
            "timezone": "Europe/Berlin",
            "language": "ru",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/app/second/"
    assert User.objects.count() == users_before
    tenant = Tenant.objects.get(slug="second")
    with all_tenants():
        assert list(Membership.unscoped.filter(tenant=tenant).values_list("user", "role")) == [
            (world_a.owner.pk, Role.OWNER)
        ]
    # still the owner of the first one, and now sees both in the switcher
    with all_tenants():
        assert set(
            Membership.unscoped.filter(user=world_a.owner).values_list("tenant__slug", flat=True)
        ) == {"a-program", "second"}
    assert client.get("/app/second/").status_code == 200
    assert client.get("/").headers["Location"] == "/app/"


@pytest.mark.parametrize(
    ("overrides", "form_name", "errors"),
    [
        ({"slug": "my_program"}, "form", {"slug": [SLUG_RULE]}),
        ({"slug": "my program"}, "form", {"slug": [SLUG_RULE]}),
        ({"slug": "прога"}, "form", {"slug": [SLUG_RULE]}),
        ({"slug": "-acme"}, "form", {"slug": [SLUG_RULE]}),
        ({"slug": "acme-"}, "form", {"slug": [SLUG_RULE]}),
        ({"slug": "ab"}, "form", {"slug": [SLUG_RULE]}),
        (
            {"slug": "a" * 41},
            "form",
            {"slug": ["Ensure this value has at most 40 characters (it has 41)."]},
        ),
        ({"slug": "admin"}, "form", {"slug": ["This address is reserved; choose another."]}),
        ({"slug": "api"}, "form", {"slug": ["This address is reserved; choose another."]}),
        ({"slug": ""}, "form", {"slug": ["This field is required."]}),
        ({"name": "   "}, "form", {"name": ["This field is required."]}),
        (
            {"currency": "XYZ"},
            "form",
            {"currency": ["Select a valid choice. XYZ is not one of the available choices."]},
        ),
        (
            {"timezone": "Mars/Olympus_Mons"},
            "form",
            {
                "timezone": [
                    "Select a valid choice. Mars/Olympus_Mons is not one of the available choices."
                ]
            },
        ),
        (
            {"language": "de"},
            "form",
            {"language": ["Select a valid choice. de is not one of the available choices."]},
        ),
        (
            {"password": "12345678"},
            "account_form",
            {"password": ["This password is too common. This password is entirely numeric."]},
        ),
        (
            {"password": "short"},
            "account_form",
            {"password": ["This password is too short. It must contain at least 8 characters."]},
        ),
        (
            {"password": "ada@acme.test"},
            "account_form",
            {"password": ["The password is too similar to the email."]},
        ),
        ({"email": "not-an-email"}, "account_form", {"email": ["Enter a valid email address."]}),
        ({"full_name": ""}, "account_form", {"full_name": ["This field is required."]}),
    ],
)
def test_bad_input_rerenders_the_form_with_the_error_and_creates_nothing(
    anon, overrides, form_name, errors
):
    response = anon.post("/signup/", signup_data(**overrides))

    assert response.status_code == 200
    assert field_errors(response.context[form_name]) == errors
    other = "account_form" if form_name == "form" else "form"
    assert field_errors(response.context[other]) == {}
    field = next(iter(errors))
    assert f'data-field="{field}"' in response.content.decode()
    assert Tenant.objects.count() == 0
    assert User.objects.count() == 0
    assert "_auth_user_id" not in anon.session


def test_duplicate_slug_is_refused_on_the_slug_field_and_creates_no_user(world_a, anon):
    users_before = User.objects.count()
    response = anon.post("/signup/", signup_data(slug="a-program"))

    assert response.status_code == 200
    assert field_errors(response.context["form"]) == {"slug": ["The address “a-program” is taken."]}
    assert field_errors(response.context["account_form"]) == {}
    assert User.objects.count() == users_before
    assert not User.objects.filter(email="ada@acme.test").exists()
    assert list(Tenant.objects.values_list("slug", flat=True)) == ["a-program"]


def test_existing_email_is_refused_on_the_email_field(world_a, anon):
    users_before = User.objects.count()
    response = anon.post("/signup/", signup_data(email="Owner@A-Aardvark.test"))

    assert response.status_code == 200
    assert field_errors(response.context["account_form"]) == {
        "email": ["An account with this email exists: log in first to add a program."]
    }
    assert field_errors(response.context["form"]) == {}
    assert User.objects.count() == users_before
    assert not Tenant.objects.filter(slug="acme").exists()


def test_logged_in_user_with_a_taken_slug_gets_the_error(world_a, client):
    client.force_login(world_a.owner)
    response = client.post(
        "/signup/",
        {
            "name": "Copy",
            "slug": "a-program",
            "country": "RU",
            "currency": "RUB",
            "timezone": "Europe/Moscow",
            "language": "ru",
        },
    )
    assert response.status_code == 200
    assert field_errors(response.context["form"]) == {"slug": ["The address “a-program” is taken."]}
    assert Tenant.objects.count() == 1


# The service.


@pytest.fixture
def owner(db):
    return UserFactory(email="boss@example.test")


def test_tenant_create_makes_the_owner_membership(owner):
    tenant = services.tenant_create(
        slug="  Shop-1 ", name=" Shop One ", owner=owner, currency="EUR", language="en"
    )
    with all_tenants():
        tenant.refresh_from_db()
    assert (tenant.slug, tenant.name, tenant.currency, tenant.timezone, tenant.language) == (
        "shop-1",
        "Shop One",
        "EUR",
        "Europe/Moscow",
        "en",
    )
    with all_tenants():
        assert list(Membership.unscoped.filter(tenant=tenant).values_list("user", "role")) == [
            (owner.pk, "owner")
        ]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"slug": "a_b"}, "slug", SLUG_RULE),
        ({"slug": "xy"}, "slug", SLUG_RULE),
        ({"slug": "signup"}, "slug", "This address is reserved; choose another."),
        ({"slug": "p"}, "slug", SLUG_RULE),
        ({"name": "  "}, "name", "Enter the company name."),
        (
            {"currency": "XYZ"},
            "currency",
            "Unknown currency “XYZ”: use an ISO 4217 code such as RUB, USD or EUR.",
        ),
        (
            {"currency": "usd"},
            "currency",
            "Unknown currency “usd”: use an ISO 4217 code such as RUB, USD or EUR.",
        ),
        (
            {"timezone_name": "Europe/Atlantis"},
            "timezone",
            "Unknown time zone “Europe/Atlantis”: use an IANA name such as Europe/Moscow.",
        ),
        ({"language": "de"}, "language", "Unknown language “de”: choose en or ru."),
    ],
)
def test_tenant_create_errors_name_the_field(owner, kwargs, field, message):
    arguments = {"slug": "valid-slug", "name": "Valid", "owner": owner, **kwargs}
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(**arguments)
    assert (caught.value.field, caught.value.message, caught.value.status) == (field, message, 400)
    assert Tenant.objects.count() == 0
    with all_tenants():
        assert Membership.unscoped.count() == 0


def test_tenant_create_duplicate_slug_is_a_conflict(owner):
    TenantFactory(slug="taken")
    with pytest.raises(ConflictError) as caught:
        services.tenant_create(slug="Taken", name="Other", owner=owner)
    assert (caught.value.field, caught.value.message, caught.value.status) == (
        "slug",
        "The address “taken” is taken.",
        409,
    )
    assert Tenant.objects.count() == 1


def test_user_get_or_create_rejects_a_bad_email_and_a_weak_password(db):
    with pytest.raises(ServiceError) as caught:
        services.user_get_or_create(email="nope", password=PASSWORD)
    assert (caught.value.field, caught.value.message) == ("email", "Enter a valid email address.")
    with pytest.raises(ServiceError) as caught:
        services.user_get_or_create(email="x@example.test", password="password")
    assert caught.value.field == "password"
    assert caught.value.message == ("This password is too common.")
    assert User.objects.count() == 0


def test_user_get_or_create_returns_the_existing_user_case_insensitively(owner):
    assert services.user_get_or_create(email=" BOSS@example.test ", password="x") == owner
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_signup_for_the_same_slug_gets_a_conflict_not_a_500():
    """Another signup inserts the slug after this one's existence check: the unique index
    makes the insert wait, then fail, and the service answers with the same field error."""
    owner = UserFactory(email="second@example.test")
    other_owner = UserFactory(email="first@example.test")
    outcome: dict = {}

    def second_signup() -> None:
        try:
            services.tenant_create(slug="race", name="Second", owner=owner)
        except ConflictError as error:
            outcome["error"] = (error.field, error.message)
        except Exception as error:  # pragma: no cover - reported by the assertion below
            outcome["error"] = repr(error)
        finally:
            connection.close()

    with transaction.atomic():
        first = services.tenant_create(slug="race", name="First", owner=other_owner)
        thread = threading.Thread(target=second_signup)
        thread.start()
        # Wait until the second signup has passed its check and is blocked on the index.
        wait_until(lambda: blocked_backends() > 0 or not thread.is_alive(), interval=0.05)
        assert blocked_backends() == 1
    thread.join(timeout=WAIT_SECONDS)

    assert outcome == {"error": ("slug", "The address “race” is taken.")}
    assert list(Tenant.objects.values_list("pk", "name")) == [(first.pk, "First")]
    with all_tenants():
        assert list(Membership.unscoped.values_list("user", flat=True)) == [other_owner.pk]


def test_signup_asks_the_website_and_country_and_starts_with_a_sales_rule(anon):
    from payouts.models import CommissionRule

    response = anon.post(
        "/signup/", signup_data(website_url="https://www.acme.example/shop", country="DE")
    )
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="acme")
    assert (tenant.website_url, tenant.country) == ("https://www.acme.example/shop", "DE")
    # Links may lead to the website at once.
    assert tenant.allowed_destination_list == ["acme.example"]
    with all_tenants():
        rules = list(
            CommissionRule.unscoped.filter(tenant=tenant).values_list(
                "name", "kind", "model", "value", "is_active"
            )
        )
    assert [(n, k, m, str(v), a) for n, k, m, v, a in rules] == [
        ("Sales: 10% of the order", "sale", "percent", "10.0000", True)
    ]
    # The rule is the program's to edit.
    rule_list = anon.get("/app/acme/commission-rules/")
    assert "Sales: 10% of the order" in rule_list.content.decode()


def test_signup_refuses_a_bad_website_and_an_old_currency(anon):
    response = anon.post("/signup/", signup_data(website_url="javascript:alert(1)", currency="ADP"))
    assert response.status_code == 200
    assert field_errors(response.context["form"]) == {
        "currency": ["Select a valid choice. ADP is not one of the available choices."],
        "website_url": ["Enter a valid URL."],
    }
    assert not Tenant.objects.filter(slug="acme").exists()
    choices = [value for value, _label in response.context["form"].fields["currency"].choices]
    assert "RUB" in choices
    assert "EUR" in choices
    assert not {"ADP", "XAU", "XXX", "XTS"} & set(choices)


def test_tenant_create_refuses_a_website_that_is_not_http(owner):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(
            slug="ftp-shop", name="Shop", owner=owner, website_url="ftp://shop.example"
        )
    assert (caught.value.field, caught.value.message) == (
        "website_url",
        "Enter the website's address, e.g. https://shop.example.",
    )
