"""The owner's program settings pages (/app/<slug>/settings/…), the change log and the
program_settings_update service."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from core.errors import ServiceError
from tenancy import services
from tenancy.models import CURRENCIES, SettingsChange, Tenant
from tenancy.scope import tenant_scope
from tests.tenancy.helpers import field_errors

pytestmark = pytest.mark.django_db

BASE = "/app/a-program/settings/"
TABS = {
    "program": BASE,
    "partners": BASE + "partners/",
    "tracking": BASE + "tracking/",
    "money": BASE + "money/",
    "email": BASE + "email/",
}


def tenant_row(tenant) -> dict:
    return Tenant.objects.filter(pk=tenant.pk).values(*services.SETTINGS_FIELDS, "logo_version")[0]


def changes(tenant) -> list[tuple[str, str, str, str]]:
    with tenant_scope(tenant):
        return list(
            SettingsChange.objects.exclude(new_value__endswith="pitch of old")
            .order_by("id")
            .values_list("actor", "field", "old_value", "new_value")
        )


def form_data(client, url: str, **overrides) -> dict:
    """What the tab's form posts when nothing is touched, with ``overrides``."""
    form = client.get(url).context["form"]
    data = {}
    for name, _field in form.fields.items():
        if name in ("logo", "logo_remove"):
            continue
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    data.update(overrides)
    return data


def image(kind: str = "PNG", size=(40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def test_owner_saves_the_program_tab_and_the_change_is_logged(world_a, client):
    client.force_login(world_a.owner)
    page = client.get(BASE)
    assert page.status_code == 200
    assert page.context["form"].initial["timezone"] == "Europe/Moscow"

    response = client.post(
        BASE,
        form_data(
            client,
            BASE,
            name="  Aardvark Renamed ",
            website_url="https://www.shop.example/",
            pitch="10% of every order.",
            timezone="Asia/Tokyo",
            country="DE",
            currency="USD",  # not a field of this form: the currency is fixed
            slug="hijack",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == BASE
    row = tenant_row(world_a.tenant)
    assert (row["name"], row["website_url"], row["pitch"], row["timezone"], row["country"]) == (
        "Aardvark Renamed",
        "https://www.shop.example/",
        "10% of every order.",
        "Asia/Tokyo",
        "DE",
    )
    tenant = Tenant.objects.get(pk=world_a.tenant.pk)
    assert (tenant.slug, tenant.currency) == ("a-program", "RUB")
    owner = world_a.owner.email
    assert changes(world_a.tenant) == [
        (owner, "name", "Aardvark Program A", "Aardvark Renamed"),
        (owner, "website_url", "", "https://www.shop.example/"),
        (owner, "pitch", "", "10% of every order."),
        (owner, "timezone", "Europe/Moscow", "Asia/Tokyo"),
        (owner, "country", "RU", "DE"),
    ]
    assert "Settings saved." in client.get(BASE).content.decode()
    # The website's domain is now where links may lead, and the tracking tab says so.
    tracking = client.get(TABS["tracking"])
    field = tracking.context["form"].fields["allowed_domains"]
    assert field.widget.attrs["placeholder"] == "shop.example"
    assert "Your website's domain, shop.example, is allowed when this is empty." in field.help_text


def test_every_tab_saves(world_a, client):
    client.force_login(world_a.owner)
    posts = {
        "partners": {
            "auto_approve_partners": "true",
            "join_phone": "required",
            "join_city": "off",
            "terms_text": "Be honest.",
            "partner_default_country": "KZ",
        },
        "tracking": {
            "allowed_domains": "Shop.example, .blog.example ,www.news.example",
            "attribution_window_days": "90",
            "attribution_model": "first",
            "click_rate_limit_per_minute": "5",
        },
        "money": {"hold_days": "14", "fraud_min_click_seconds": "3"},
        "email": {"sender_name": "Aardvark team", "reply_to_email": "help@aardvark.example"},
    }
    for tab, values in posts.items():
        response = client.post(TABS[tab], form_data(client, TABS[tab], **values))
        assert response.status_code == 302, (
            tab,
            response.context and response.context["form"].errors,
        )
    row = tenant_row(world_a.tenant)
    assert row["auto_approve_partners"] is True
    assert row["join_fields"] == {
        "channel_type": "required",
        "city": "off",
        "phone": "required",
        "partner_type": "off",
        "company_size": "off",
        "industry": "off",
    }
    assert (row["terms_text"], row["partner_default_country"]) == ("Be honest.", "KZ")
    assert row["allowed_domains"] == "shop.example, blog.example, news.example"
    assert (row["attribution_window_days"], row["attribution_model"]) == (90, "first")
    assert row["click_rate_limit_per_minute"] == 5
    assert (row["hold_days"], row["fraud_min_click_seconds"]) == (14, 3)
    assert (row["sender_name"], row["reply_to_email"]) == (
        "Aardvark team",
        "help@aardvark.example",
    )
    logged = {field for _actor, field, _old, _new in changes(world_a.tenant)}
    assert logged == {
        "auto_approve_partners",
        "join_fields",
        "terms_text",
        "partner_default_country",
        "allowed_domains",
        "attribution_window_days",
        "attribution_model",
        "click_rate_limit_per_minute",
        "hold_days",
        "fraud_min_click_seconds",
        "sender_name",
        "reply_to_email",
    }
    # Nothing changed: nothing logged.
    client.post(TABS["money"], form_data(client, TABS["money"]))
    assert len(changes(world_a.tenant)) == 12


@pytest.mark.parametrize(
    ("tab", "values", "field", "error"),
    [
        ("program", {"name": ""}, "name", "This field is required."),
        ("program", {"website_url": "javascript:alert(1)"}, "website_url", "Enter a valid URL."),
        ("program", {"country": "ZZ"}, "country", "Select a valid choice. ZZ is not one of the available choices."),
        ("program", {"timezone": "Mars/Base"}, "timezone", "Select a valid choice. Mars/Base is not one of the available choices."),
        ("partners", {"join_phone": "sometimes"}, "join_phone", "Select a valid choice. sometimes is not one of the available choices."),
        ("tracking", {"allowed_domains": "shop.example, bad_domain!"}, "allowed_domains", "“bad_domain!” is not a valid domain name, e.g. shop.example."),
        ("tracking", {"allowed_domains": "https://shop.example/x"}, "allowed_domains", "“https://shop.example/x” is not a domain: write only the domain, e.g. shop.example."),
        ("tracking", {"attribution_window_days": "0"}, "attribution_window_days", "The attribution window is 1 to 365 days."),
        ("tracking", {"attribution_window_days": "400"}, "attribution_window_days", "The attribution window is 1 to 365 days."),
        ("tracking", {"click_rate_limit_per_minute": "0"}, "click_rate_limit_per_minute", "The click limit is 1 to 1,000 a minute."),
        ("money", {"hold_days": "366"}, "hold_days", "The hold period is 0 to 365 days."),
        ("money", {"fraud_min_click_seconds": "-1"}, "fraud_min_click_seconds", "Ensure this value is greater than or equal to 0."),
        ("email", {"reply_to_email": "not-an-address"}, "reply_to_email", "Enter a valid email address."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_on_the_field_and_nothing_changes(
    world_a, client, tab, values, field, error
):
    client.force_login(world_a.owner)
    before = tenant_row(world_a.tenant)
    # Another field of the same tab changes along: the whole post is refused.
    data = form_data(client, TABS[tab], **values)
    response = client.post(TABS[tab], data)
    assert response.status_code == 400
    assert field_errors(response.context["form"]) == {field: [error]}
    assert tenant_row(world_a.tenant) == before
    assert changes(world_a.tenant) == []


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_non_owners_get_403_and_change_nothing(world_a, role):
    client = world_a.client_for(getattr(world_a, role))
    before = tenant_row(world_a.tenant)
    for url in [*TABS.values(), BASE + "history/"]:
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"name": "Mine now", "hold_days": "1"}).status_code == 403
    assert tenant_row(world_a.tenant) == before


def _refusal(tenant, data: dict) -> tuple[str | None, str, str]:
    with tenant_scope(tenant), pytest.raises(ServiceError) as caught:
        services.program_settings_update(tenant=tenant, data=data)
    return caught.value.field, caught.value.code, caught.value.message


def test_program_settings_update_service(world_a):
    before = tenant_row(world_a.tenant)
    tenant = world_a.tenant
    assert _refusal(tenant, {"name": "X", "timezone": "Moon/Crater"}) == (
        "timezone",
        "invalid",
        "Unknown time zone “Moon/Crater”: use an IANA name such as Europe/Moscow.",
    )
    assert _refusal(tenant, {"currency": "USD"}) == (
        "currency",
        "unknown_field",
        "“currency” is not a setting that can be changed.",
    )
    assert _refusal(tenant, {"join_fields": {"fax": "required"}}) == (
        "join_fields",
        "invalid_join_fields",
        "Unknown join form question “fax”; choose among: channel_type, city, phone, "
        "partner_type, company_size, industry.",
    )
    assert _refusal(tenant, {"allowed_domains": "ok.example, exa mple.com"}) == (
        "allowed_domains",
        "invalid",
        "“exa mple.com” is not a valid domain name, e.g. shop.example.",
    )
    assert tenant_row(tenant) == before
    assert tenant.name == "Aardvark Program A"  # the caller's copy is untouched too


def test_tenant_update_keeps_working(world_a):
    with tenant_scope(world_a.tenant):
        services.tenant_update(
            tenant=world_a.tenant, name="New", timezone_name="Asia/Tokyo", language="ru"
        )
    row = tenant_row(world_a.tenant)
    assert (row["name"], row["timezone"], row["language"]) == ("New", "Asia/Tokyo", "ru")


def test_history_lists_changes_newest_first_in_pages(world_a, client):
    client.force_login(world_a.owner)
    with tenant_scope(world_a.tenant):
        for days in range(1, 53):
            services.program_settings_update(
                tenant=world_a.tenant, data={"hold_days": days}, user=world_a.owner
            )
    page = client.get(BASE + "history/")
    assert page.status_code == 200
    rows = page.context["rows"]
    assert len(rows) == 50
    assert rows[0][1:] == ("hold period, days", "51", "52")
    body = page.content.decode()
    assert "Page 1 of 2" in body
    assert world_a.owner.email in body
    last = client.get(BASE + "history/?page=2").context["rows"]
    assert [new for _change, _label, _old, new in last][-2:] == ["1", "Aardvark pitch of old"]


def test_logo_upload_is_served_and_shown_and_removed(world_a, client, anon):
    client.force_login(world_a.owner)
    data = form_data(client, BASE, logo=SimpleUploadedFile("logo.png", image("PNG")))
    assert client.post(BASE, data).status_code == 302
    tenant = Tenant.objects.get(pk=world_a.tenant.pk)
    assert len(tenant.logo_version) == 12
    logo = anon.get(f"/p/a-program/logo?v={tenant.logo_version}")
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert logo["Cache-Control"] == "public, max-age=31536000, immutable"
    assert logo.content == image("PNG")
    logo_url = f"/p/a-program/logo?v={tenant.logo_version}"
    assert logo_url in client.get("/app/a-program/").content.decode()  # the header
    assert logo_url in anon.get("/p/a-program/join").content.decode()
    assert changes(world_a.tenant)[-1] == (world_a.owner.email, "logo", "", tenant.logo_version)
    history = client.get(BASE + "history/").context["rows"]
    assert history[0][1:] == ("logo", "", "a new logo")

    webp = form_data(client, BASE, logo=SimpleUploadedFile("l.webp", image("WEBP")))
    assert client.post(BASE, webp).status_code == 302
    assert anon.get("/p/a-program/logo")["Content-Type"] == "image/webp"

    removed = form_data(client, BASE, logo_remove="on")
    assert client.post(BASE, removed).status_code == 302
    assert Tenant.objects.get(pk=world_a.tenant.pk).logo_version == ""
    assert anon.get("/p/a-program/logo").status_code == 404


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (SVG, "Upload a PNG, JPEG or WebP image."),
        (image("GIF"), "Upload a PNG, JPEG or WebP image."),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "Upload a PNG, JPEG or WebP image."),
        (image("PNG") + b"\0" * (1024 * 1024), "The logo is at most 1 MB."),
    ],
)
def test_logo_refuses_svg_other_formats_and_oversize(world_a, client, content, error):
    client.force_login(world_a.owner)
    before = tenant_row(world_a.tenant)
    data = form_data(client, BASE, name="Renamed too", logo=SimpleUploadedFile("logo.svg", content))
    response = client.post(BASE, data)
    assert response.status_code == 400
    assert field_errors(response.context["form"]) == {"logo": [error]}
    assert tenant_row(world_a.tenant) == before  # the name did not change either
    assert changes(world_a.tenant) == []


def test_currencies_are_current_iso_4217_money_only():
    for code in ("RUB", "USD", "EUR", "KZT", "GBP", "JPY"):
        assert code in CURRENCIES
    for code in ("ADP", "XAU", "XAG", "XXX", "XTS", "XDR", "BOV", "USN", "CLF", "SLL", "HRK"):
        assert code not in CURRENCIES


def test_change_log_values_are_readable_text(world_a):
    with tenant_scope(world_a.tenant):
        services.program_settings_update(
            tenant=world_a.tenant,
            data={"deep_links_allowed": False, "join_fields": {"phone": "optional"}},
            user=world_a.owner,
        )
    logged = {field: (old, new) for _a, field, old, new in changes(world_a.tenant)}
    assert logged["deep_links_allowed"] == ("true", "false")
    assert json.loads(logged["join_fields"][1])["phone"] == "optional"
    assert logged["join_fields"][0] == "{}"  # never chosen before
