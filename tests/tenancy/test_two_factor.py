"""Two-factor authentication: the code step after the password (team and cabinet logins),
recovery codes that work once, wrong codes counted, turning it off, and an owner requiring it
from the whole team."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenancy.models import Role, Tenant
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, TenantFactory, UserFactory
from tests.tenancy.two_factor_helpers import device_code, two_factor_on

pytestmark = pytest.mark.django_db

CODE_STEP = "/accounts/login/code/"
LOCKED = (
    "Too many failed attempts to log in. For your safety, logging in is paused: try again in "
    "15 minutes."
)
WRONG_CODE = (
    "This code is not right. Check that your phone's clock is correct and use the newest code."
)


@pytest.fixture
def program(db):
    tenant = TenantFactory(slug="safe-co", name="Safe Co", language="en")
    owner = UserFactory(email="owner@safe.test")
    manager = UserFactory(email="manager@safe.test")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    MembershipFactory(tenant=tenant, user=manager, role=Role.MANAGER)
    partner = PartnerFactory(tenant=tenant, email="partner@safe.test")
    return {"tenant": tenant, "owner": owner, "manager": manager, "partner": partner.user}


def password_step(client: Client, email: str, *, path="/accounts/login/", next_url=""):
    data = {"username": email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(path, data)


def user_id(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value else None


def code_errors(response) -> list[str]:
    return response.context["form"].errors.get("code", [])


def test_the_login_asks_for_the_code_after_the_password(program, anon):
    device, _codes = two_factor_on(program["manager"])
    response = password_step(anon, "manager@safe.test", next_url="/app/safe-co/team/")
    assert response.status_code == 302
    assert response["Location"] == CODE_STEP
    assert user_id(anon) is None  # not logged in by the password alone
    assert anon.get("/app/safe-co/")["Location"] == "/accounts/login/?next=/app/safe-co/"

    page = anon.get(CODE_STEP)
    assert page.status_code == 200
    assert "Open your authenticator app" in page.content.decode()
    wrong = anon.post(CODE_STEP, {"code": wrong_code(device)})
    assert code_errors(wrong) == [WRONG_CODE]
    assert user_id(anon) is None

    # django-otp makes the device wait a second after a wrong code.
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        right = anon.post(CODE_STEP, {"code": device_code(device)})
    assert right.status_code == 302
    assert right["Location"] == "/app/safe-co/team/"
    assert user_id(anon) == program["manager"].pk
    assert anon.get("/app/safe-co/team/").status_code == 200


def test_a_code_is_good_once(program, anon):
    device, _codes = two_factor_on(program["manager"])
    code = device_code(device)
    password_step(anon, "manager@safe.test")
    assert anon.post(CODE_STEP, {"code": code}).status_code == 302
    other = Client()
    password_step(other, "manager@safe.test")
    assert code_errors(other.post(CODE_STEP, {"code": code})) == [WRONG_CODE]
    assert user_id(other) is None


def test_a_recovery_code_works_once(program, anon):
    _device, codes = two_factor_on(program["manager"])
    assert len(codes) == 10
    assert len(set(codes)) == 10
    password_step(anon, "manager@safe.test")
    used = anon.post(CODE_STEP, {"code": codes[3].upper()}, follow=True)
    assert user_id(anon) == program["manager"].pk
    assert (
        "You used a recovery code; 9 are left. Make new ones on the Security page."
        in used.content.decode()
    )
    assert StaticToken.objects.filter(device__user=program["manager"]).count() == 9

    again = Client()
    password_step(again, "manager@safe.test")
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert code_errors(again.post(CODE_STEP, {"code": codes[3]})) == [WRONG_CODE]
    assert user_id(again) is None


def test_the_cabinet_login_asks_for_the_code_too(program, anon):
    device, _codes = two_factor_on(program["partner"])
    response = password_step(anon, "partner@safe.test", path="/p/safe-co/login/")
    assert response["Location"] == CODE_STEP
    assert user_id(anon) is None
    assert anon.get("/p/safe-co/").status_code == 302
    right = anon.post(CODE_STEP, {"code": device_code(device)})
    assert right["Location"] == "/p/safe-co/"
    assert anon.get("/p/safe-co/").status_code == 200


def test_wrong_codes_count_as_failed_logins(program, anon, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only django-axes's count here
    device, _codes = two_factor_on(program["manager"])
    password_step(anon, "manager@safe.test")
    for n in range(5):
        response = anon.post(CODE_STEP, {"code": f"{n:06d}"})
    assert response.status_code == 429
    assert code_errors(response) == [LOCKED]
    refused = anon.post(CODE_STEP, {"code": device_code(device)})
    assert refused.status_code == 429
    assert code_errors(refused) == [LOCKED]
    assert user_id(anon) is None
    # The password step is paused too.
    fresh = Client()
    assert fresh.post(
        "/accounts/login/", {"username": "manager@safe.test", "password": PASSWORD}
    ).context["form"].non_field_errors() == [LOCKED]


def wrong_code(device) -> str:
    return "000000" if device_code(device) != "000000" else "111111"


def test_django_otp_slows_down_wrong_codes(program, anon):
    device, _codes = two_factor_on(program["manager"])
    password_step(anon, "manager@safe.test")
    assert code_errors(anon.post(CODE_STEP, {"code": wrong_code(device)})) == [WRONG_CODE]
    # At once, even the right code waits for the device's delay (1 s after one wrong code).
    waiting = ["Too many wrong codes in a row: wait 1 second and try again."]
    assert code_errors(anon.post(CODE_STEP, {"code": device_code(device)})) == waiting
    assert user_id(anon) is None
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        assert anon.post(CODE_STEP, {"code": device_code(device)}).status_code == 302


def test_the_code_step_expires(program, anon):
    two_factor_on(program["manager"])
    password_step(anon, "manager@safe.test")
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = anon.get(CODE_STEP)
    assert response["Location"] == "/accounts/login/"
    assert anon.get(CODE_STEP)["Location"] == "/accounts/login/"  # forgotten


def test_a_session_without_the_code_gives_it_before_a_programs_pages(program):
    device, _codes = two_factor_on(program["manager"])
    client = Client()
    client.force_login(program["manager"])  # as the operators' admin login would
    response = client.get("/app/safe-co/partners/")
    assert response.status_code == 302
    assert response["Location"] == f"{CODE_STEP}?next=%2Fapp%2Fsafe-co%2Fpartners%2F"
    done = client.post(CODE_STEP, {"code": device_code(device), "next": "/app/safe-co/partners/"})
    assert done["Location"] == "/app/safe-co/partners/"
    assert client.get("/app/safe-co/partners/").status_code == 200

    two_factor_on(program["partner"])
    cabinet = Client()
    cabinet.force_login(program["partner"])
    assert (
        cabinet.get("/p/safe-co/links/")["Location"]
        == f"{CODE_STEP}?next=%2Fp%2Fsafe-co%2Flinks%2F"
    )


def test_turning_it_off_needs_the_password_and_a_code(program):
    device, _codes = two_factor_on(program["manager"])
    client = Client()
    password_step(client, "manager@safe.test")
    client.post(CODE_STEP, {"code": device_code(device)})
    page = client.get("/accounts/two-factor/")
    assert "10 recovery codes left." in page.content.decode()

    wrong = client.post(
        "/accounts/two-factor/",
        {"action": "disable", "password": "not-it", "code": device_code(device)},
    )
    assert wrong.status_code == 400
    assert wrong.context["disable_form"].errors == {"password": ["This is not your password."]}
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        done = client.post(
            "/accounts/two-factor/",
            {"action": "disable", "password": PASSWORD, "code": device_code(device)},
        )
    assert done["Location"] == "/accounts/two-factor/"
    assert not TOTPDevice.objects.filter(user=program["manager"]).exists()
    assert not StaticToken.objects.filter(device__user=program["manager"]).exists()
    fresh = Client()
    assert password_step(fresh, "manager@safe.test")["Location"] == "/"


def test_an_owner_requires_it_and_a_member_without_it_sets_it_up_first(program):
    owner = Client()
    owner.force_login(program["owner"])
    refused = owner.post("/app/safe-co/team/two-factor/", {"require_two_factor": "on"})
    assert refused.status_code == 400
    assert refused.context["two_factor_form"].errors == {
        "require_two_factor": ["Turn on two-factor authentication for your own account first."]
    }
    assert not Tenant.objects.get(slug="safe-co").require_two_factor

    owner_device, _codes = two_factor_on(program["owner"])
    owner = Client()
    password_step(owner, "owner@safe.test")
    owner.post(CODE_STEP, {"code": device_code(owner_device)})
    saved = owner.post("/app/safe-co/team/two-factor/", {"require_two_factor": "on"}, follow=True)
    assert "Two-factor authentication is now required from the whole team." in (
        saved.content.decode()
    )
    assert Tenant.objects.get(slug="safe-co").require_two_factor

    member = Client()
    member.force_login(program["manager"])
    response = member.get("/app/safe-co/conversions/")
    assert response.status_code == 302
    assert response["Location"] == (
        "/accounts/two-factor/setup/?next=%2Fapp%2Fsafe-co%2Fconversions%2F"
    )
    setup = member.get(response["Location"])
    assert setup.status_code == 200
    assert "Safe Co requires two-factor authentication: set it up to open the program." in (
        setup.content.decode()
    )
    assert "<svg" in setup.content.decode()
    # Logging out still works.
    assert member.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert user_id(member) is None

    member.force_login(program["manager"])
    device = TOTPDevice.objects.get(user=program["manager"], confirmed=False)
    confirmed = member.post(
        "/accounts/two-factor/setup/",
        {"code": device_code(device), "next": "/app/safe-co/conversions/"},
    )
    assert confirmed["Location"] == (
        "/accounts/two-factor/recovery-codes/?next=/app/safe-co/conversions/"
    )
    codes = member.get(confirmed["Location"])
    assert len(codes.context["codes"]) == 10
    assert "no-store" in codes["Cache-Control"]
    assert 'href="/app/safe-co/conversions/"' in codes.content.decode()
    # Shown once.
    assert member.get(confirmed["Location"])["Location"] == "/accounts/two-factor/"
    assert member.get("/app/safe-co/conversions/").status_code == 200
    # The team page shows who has it.
    team = member.get("/app/safe-co/team/").content.decode()
    assert 'data-testid="two-factor-manager@safe.test">on<' in team
    assert "This program requires two-factor authentication from everyone on the team." in team


def test_only_an_owner_changes_the_requirement(program):
    member = Client()
    member.force_login(program["manager"])
    assert (
        member.post("/app/safe-co/team/two-factor/", {"require_two_factor": "on"}).status_code
        == 403
    )
    assert not Tenant.objects.get(slug="safe-co").require_two_factor


def test_a_program_that_does_not_require_it_lets_members_in_without(program):
    member = Client()
    member.force_login(program["manager"])
    assert member.get("/app/safe-co/").status_code == 200
    # Requiring it in one program does not touch another.
    other = TenantFactory(slug="other-co", require_two_factor=True)
    MembershipFactory(tenant=other, user=program["manager"], role=Role.MANAGER)
    assert member.get("/app/other-co/").status_code == 302
    assert member.get("/app/safe-co/").status_code == 200


def test_the_setup_keeps_its_secret_across_reloads_and_refuses_a_wrong_code(program):
    member = Client()
    member.force_login(program["manager"])
    first = member.get("/accounts/two-factor/setup/").context["secret"]
    assert member.get("/accounts/two-factor/setup/").context["secret"] == first
    wrong = member.post("/accounts/two-factor/setup/", {"code": "12"})
    assert wrong.status_code == 400
    assert wrong.context["form"].errors == {"code": [WRONG_CODE]}
    assert not TOTPDevice.objects.filter(user=program["manager"], confirmed=True).exists()


def test_new_recovery_codes_replace_the_old_ones(program):
    device, old_codes = two_factor_on(program["manager"])
    client = Client()
    password_step(client, "manager@safe.test")
    client.post(CODE_STEP, {"code": old_codes[0]})
    made = client.post(
        "/accounts/two-factor/", {"action": "recovery_codes", "codes-code": device_code(device)}
    )
    assert made["Location"] == "/accounts/two-factor/recovery-codes/"
    new_codes = client.get(made["Location"]).context["codes"]
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    assert sorted(
        StaticToken.objects.filter(device__user=program["manager"]).values_list("token", flat=True)
    ) == sorted(new_codes)


def test_the_admin_asks_a_staff_account_with_a_second_factor_for_the_code(program):
    """The operators' admin sees every program: its password login alone does not open it."""
    staff = UserFactory(email="operator@safe.test", is_staff=True, is_superuser=True)
    device, _codes = two_factor_on(staff)
    client = Client()
    client.force_login(staff)  # what /admin/login/ does: the password only
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    done = client.post(CODE_STEP, {"code": device_code(device), "next": "/admin/"})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
