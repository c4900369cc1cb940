"""The tracking snippet on a merchant's own site (docs/tracking.md): a visitor follows a
partner's link, lands on the merchant's page (served here by a small HTTP server of its own, on
another origin than Partnerflow) that includes partnerflow.js from the live server, submits the
marked form — whose hidden field the snippet filled with the click id — and the merchant's
backend posts the conversion with it: attributed to that partner. Then last click against first
click across two partners' links, and a page with storage blocked."""

from urllib.parse import parse_qs, urlsplit

import pytest

from partners import services
from tenancy.models import Role
from tenancy.scope import tenant_scope
from tenancy.services import api_key_create
from tests.browser.helpers import api_request
from tests.browser.merchant import merchant_site
from tests.factories import MembershipFactory, PartnerFactory, TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SNIPPET = """<script src="{script}" data-program="shop" data-window-days="30"
        data-attribution="{mode}" defer></script>"""


@pytest.fixture
def merchant(live_server):
    """The merchant's site: /last and /first (the snippet in that attribution mode) and
    /thanks, which keeps what the submitted form carried."""
    script = f"{live_server.url}/static/js/partnerflow.js"
    with merchant_site(
        lambda path: SNIPPET.format(script=script, mode=path.strip("/") or "last")
    ) as site:
        yield site.url, site.received


def test_a_click_lands_on_the_merchants_page_and_its_sign_up_is_attributed(
    live_server, new_page, merchant
):
    shop, received = merchant
    tenant = TenantFactory(slug="shop", website_url=f"{shop}/last", allowed_domains="127.0.0.1")
    MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.OWNER)
    anna = PartnerFactory(tenant=tenant, name="Anna")
    boris = PartnerFactory(tenant=tenant, name="Boris")
    with tenant_scope(tenant):
        _key, secret = api_key_create(tenant=tenant, name="Shop backend", created_by=None)
        links = {
            (partner.name, mode): services.link_create(
                partner=partner, destination_url=f"{shop}/{mode}"
            ).code
            for partner in (anna, boris)
            for mode in ("last", "first")
        }

    def visit(page, name, mode) -> str:
        """Follows the partner's link; the click id the visitor landed with."""
        page.goto(f"{live_server.url}/r/{links[name, mode]}")
        landed = parse_qs(urlsplit(page.url).query)
        assert page.url.startswith(f"{shop}/{mode}?")
        return landed["pf_click"][0]

    errors: list[str] = []
    page = new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    anna_click = visit(page, "Anna", "last")
    field = page.locator("form[data-partnerflow] input[name=pf_click]")
    assert field.get_attribute("type") == "hidden"
    assert field.input_value() == anna_click
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{shop}/thanks?**")
    assert received[-1] == {
        "email": "buyer@example.test",
        "pf_click": anna_click,
        "pf_ref": anna.code,
    }

    # The merchant's backend reports the sign-up with what the form carried.
    status, body = api_request(
        live_server,
        "/api/v1/conversions",
        secret,
        post={"kind": "lead", "external_id": "signup-1", "click_id": received[-1]["pf_click"]},
    )
    assert status == 201, body
    assert (body["partner"], body["attribution"]) == (anna.pk, "click")

    # Last click: Boris's later link takes over, also on a later visit without parameters.
    boris_click = visit(page, "Boris", "last")
    page.goto(f"{shop}/last")
    assert page.evaluate("[partnerflow.clickId(), partnerflow.partnerCode()]") == [
        boris_click,
        boris.code,
    ]

    # First click: on another device, Anna's click stays although Boris's came later.
    other = new_page()
    other.on("pageerror", lambda error: errors.append(str(error)))
    first_click = visit(other, "Anna", "first")
    visit(other, "Boris", "first")
    other.goto(f"{shop}/first")
    assert other.evaluate("partnerflow.clickId()") == first_click
    assert other.locator("input[name=pf_ref]").input_value() == anna.code

    # Storage blocked: no error, and the landed click still reaches the form.
    blocked = new_page()
    blocked.on("pageerror", lambda error: errors.append(str(error)))
    blocked.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new Error('blocked'); }});"
        "Object.defineProperty(document, 'cookie', {get() { throw new Error('blocked'); },"
        " set() { throw new Error('blocked'); }});"
    )
    blocked.goto(f"{shop}/last?pf_click={anna_click}&pf_ref={anna.code}")
    assert blocked.locator("input[name=pf_click]").input_value() == anna_click
    blocked.goto(f"{shop}/last")
    assert blocked.evaluate("partnerflow.clickId()") == ""
    assert errors == []
