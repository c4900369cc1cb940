"""``{{ email|disposable_domain }}``: the disposable mail service an address is at, or ""."""

from django import template

from core.email_domains import email_disposable_domain

register = template.Library()


@register.filter
def disposable_domain(email: str) -> str:
    return email_disposable_domain(email or "")
