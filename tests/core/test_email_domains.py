"""The disposable-mail check reads the ``disposable-email-domains`` package's list."""

import pytest

from core.email_domains import email_disposable_domain, email_is_disposable


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("someone@mailinator.com", "mailinator.com"),
        ("Someone@MAILINATOR.COM", "mailinator.com"),
        ("someone@mailinator.com.", "mailinator.com"),
        ("someone@x7.mailinator.com", "mailinator.com"),  # a random subdomain of a listed one
        ("someone@guerrillamail.com", "guerrillamail.com"),
        ("someone@0815.ru", "0815.ru"),
        ("someone@gmail.com", ""),
        ("someone@yandex.ru", ""),
        ("someone@mail.ru", ""),
        ("someone@company.co.uk", ""),
        ("no-at-sign", ""),
        ("", ""),
    ],
)
def test_listed_domains_and_their_subdomains_are_disposable(email, domain):
    assert email_disposable_domain(email) == domain
    assert email_is_disposable(email) is bool(domain)
