"""Logging in and out (dashboard and partner cabinet), the program switcher, password reset by
email through a real local SMTP server, and the interface language."""

import re

import pytest

from tenancy.models import Role, User
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

RESET_LINK = re.compile(r"http://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)")
NEW_PASSWORD = "a-brand-new-passphrase-42"


def logged_in_user_id(client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


# Dashboard login and logout


def test_manager_logs_in_and_lands_on_the_dashboard(world_a, anon):
    page = anon.get("/accounts/login/")
    assert page.status_code == 200

    response = anon.post(
        "/accounts/login/", {"username": "manager@a-aardvark.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(anon) == world_a.manager.pk
    home = anon.get("/")
    assert home.status_code == 302
    assert home["Location"] == "/app/a-program/"
    dashboard = anon.get("/app/a-program/")
    assert dashboard.status_code == 200
    assert dashboard.context["membership"].role == Role.MANAGER
    assert 'data-testid="current-user">manager@a-aardvark.test<' in dashboard.content.decode()


def test_login_follows_next(world_a, anon):
    response = anon.get("/app/a-program/team/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/app/a-program/team/"
    response = anon.post(
        "/accounts/login/?next=/app/a-program/team/",
        {
            "username": "manager@a-aardvark.test",
            "password": PASSWORD,
            "next": "/app/a-program/team/",
        },
    )
    assert response["Location"] == "/app/a-program/team/"


def test_login_refuses_an_offsite_next(world_a, anon):
    response = anon.post(
        "/accounts/login/",
        {
            "username": "manager@a-aardvark.test",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


def test_wrong_password_is_refused(world_a, anon):
    response = anon.post(
        "/accounts/login/", {"username": "manager@a-aardvark.test", "password": "wrong-one"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "__all__": [
            "Please enter a correct email and password. Note that both fields may be "
            "case-sensitive."
        ]
    }
    assert logged_in_user_id(anon) is None


def test_logout(world_a, anon):
    anon.force_login(world_a.manager)
    assert anon.get("/app/a-program/").status_code == 200
    response = anon.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert logged_in_user_id(anon) is None
    after = anon.get("/app/a-program/")
    assert after.status_code == 302
    assert after["Location"] == "/accounts/login/?next=/app/a-program/"


def test_anonymous_gets_the_same_redirect_for_a_missing_program(world_a, anon):
    # no probing for which program addresses exist
    response = anon.get("/app/no-such-program/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/app/no-such-program/"


def test_landing_page_for_visitors(anon, db):
    response = anon.get("/")
    assert response.status_code == 200
    assert 'href="/signup/"' in response.content.decode()


# Partner cabinet


def test_partner_logs_in_to_the_cabinet(world_a, anon):
    partner = world_a.partners[0]
    page = anon.get("/p/a-program/login/")
    assert page.status_code == 200
    assert "Log in to the Aardvark Program A partner cabinet" in page.content.decode()

    response = anon.post(
        "/p/a-program/login/", {"username": "partner1@a-aardvark.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/p/a-program/"
    assert logged_in_user_id(anon) == partner.user_id
    home = anon.get("/p/a-program/")
    assert home.status_code == 200
    assert home.context["partner"] == partner
    assert "Hello, Aardvark Partner 1" in home.content.decode()


def test_cabinet_home_needs_a_login(world_a, anon):
    response = anon.get("/p/a-program/")
    assert response.status_code == 302
    assert response["Location"] == "/p/a-program/login/?next=/p/a-program/"


def test_cabinet_of_another_program_is_404_for_a_partner(world_a, world_b, anon):
    response = anon.post(
        "/p/b-program/login/", {"username": "partner1@a-aardvark.test", "password": PASSWORD}
    )
    assert response["Location"] == "/p/b-program/"
    assert anon.get("/p/b-program/").status_code == 404


def test_cabinet_of_an_unknown_program_is_404(anon, db):
    assert anon.get("/p/nope/login/").status_code == 404


# The program switcher


def test_user_with_two_programs_gets_the_switcher_and_opens_both(world_a, world_b, anon):
    MembershipFactory(tenant=world_b.tenant, user=world_a.manager, role=Role.ANALYST)
    anon.post("/accounts/login/", {"username": "manager@a-aardvark.test", "password": PASSWORD})

    home = anon.get("/")
    assert home.status_code == 302
    assert home["Location"] == "/app/"
    switcher = anon.get("/app/")
    assert switcher.status_code == 200
    assert [(m.tenant.slug, m.role) for m in switcher.context["memberships"]] == [
        ("a-program", "manager"),
        ("b-program", "analyst"),
    ]
    html = switcher.content.decode()
    assert 'href="/app/a-program/"' in html
    assert 'href="/app/b-program/"' in html

    a = anon.get("/app/a-program/")
    b = anon.get("/app/b-program/")
    assert (a.status_code, b.status_code) == (200, 200)
    assert (a.context["tenant"].slug, a.context["membership"].role) == ("a-program", "manager")
    assert (b.context["tenant"].slug, b.context["membership"].role) == ("b-program", "analyst")


def test_switcher_needs_a_login(anon, db):
    response = anon.get("/app/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/app/"


def test_user_without_a_program_sees_an_empty_switcher(db, anon):
    partner = PartnerFactory(email="lonely@example.test")
    anon.force_login(partner.user)
    assert anon.get("/")["Location"] == "/app/"
    page = anon.get("/app/")
    assert list(page.context["memberships"]) == []
    assert "You are not on any program's team yet." in page.content.decode()


# Password reset by email


def test_password_reset_by_email(world_a, anon, smtp_server):
    response = anon.post("/accounts/password-reset/", {"email": "MANAGER@a-aardvark.test"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"

    messages = smtp_server.wait_for(1)
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "manager@a-aardvark.test"
    assert message["Subject"] == "Set a new Partnerflow password"
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = RESET_LINK.search(text)
    assert link is not None, text
    assert link[1] in message.get_body(preferencelist=("html",)).get_content()

    form = anon.get(link[1], follow=True)
    assert form.status_code == 200
    assert form.context["validlink"] is True
    set_url = form.redirect_chain[-1][0]
    done = anon.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"

    user = User.objects.get(pk=world_a.manager.pk)
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    fresh = type(anon)()
    old = fresh.post(
        "/accounts/login/", {"username": "manager@a-aardvark.test", "password": PASSWORD}
    )
    assert old.status_code == 200
    assert logged_in_user_id(fresh) is None
    new = fresh.post(
        "/accounts/login/", {"username": "manager@a-aardvark.test", "password": NEW_PASSWORD}
    )
    assert new.status_code == 302
    assert logged_in_user_id(fresh) == world_a.manager.pk

    # the link works once
    again = anon.get(link[1], follow=True)
    assert again.context["validlink"] is False


def test_password_reset_for_an_unknown_email_sends_nothing(world_a, anon, smtp_server):
    response = anon.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    # same answer as for a known address: no probing for accounts
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert smtp_server.messages == []


# Language


def test_setlang_stores_the_choice_on_the_logged_in_user(world_a, client):
    client.force_login(world_a.manager)
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/app/a-program/"})
    assert response.status_code == 302
    assert response["Location"] == "/app/a-program/"
    assert User.objects.get(pk=world_a.manager.pk).language == "ru"
    assert response.cookies["pf_language"].value == "ru"

    page = client.get("/app/a-program/")
    assert page.status_code == 200
    assert page["Content-Language"] == "ru"
    assert '<html lang="ru">' in page.content.decode()


def test_the_users_language_follows_them_to_another_device(world_a, client):
    User.objects.filter(pk=world_a.manager.pk).update(language="ru")
    client.force_login(world_a.manager)  # no cookie on this client
    page = client.get("/app/a-program/")
    assert page["Content-Language"] == "ru"
    assert '<html lang="ru">' in page.content.decode()


def test_setlang_for_an_anonymous_visitor_sets_the_cookie(anon, db):
    response = anon.post("/i18n/setlang/", {"language": "ru", "next": "/signup/"})
    assert response.status_code == 302
    assert response["Location"] == "/signup/"
    cookie = response.cookies["pf_language"]
    assert cookie.value == "ru"
    assert cookie["samesite"] == "Lax"
    page = anon.get("/signup/")
    assert page["Content-Language"] == "ru"
    assert '<html lang="ru">' in page.content.decode()


def test_setlang_ignores_an_unknown_language_and_an_offsite_next(world_a, client):
    client.force_login(world_a.manager)
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert "pf_language" not in response.cookies
    assert User.objects.get(pk=world_a.manager.pk).language == ""


def test_setlang_is_post_only(anon, db):
    assert anon.get("/i18n/setlang/?language=ru").status_code == 405


def test_programs_default_language_applies_in_the_cabinet(world_a, anon):
    world_a.tenant.language = "ru"
    world_a.tenant.save(update_fields=["language"])
    page = anon.get("/p/a-program/login/")
    assert page.status_code == 200
    assert page["Content-Language"] == "ru"
    assert '<html lang="ru">' in page.content.decode()


def test_program_in_english_stays_english_in_the_cabinet(world_a, anon):
    page = anon.get("/p/a-program/login/", HTTP_ACCEPT_LANGUAGE="ru")
    assert page["Content-Language"] == "en"
    assert '<html lang="en">' in page.content.decode()


def test_visitors_own_choice_beats_the_programs_default(world_a, anon):
    world_a.tenant.language = "ru"
    world_a.tenant.save(update_fields=["language"])
    anon.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = anon.get("/p/a-program/login/")
    assert page["Content-Language"] == "en"
    assert '<html lang="en">' in page.content.decode()
