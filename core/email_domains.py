"""Whether an email address is at a disposable (throwaway) mail service.

The list is the ``disposable-email-domains`` package's blocklist — a community list, maintained
and released every few weeks, of some ten thousand domains — never a hand-typed one: keeping up
with throwaway services is its maintainers' whole job. Updating the package updates the check.
"""

from __future__ import annotations

from disposable_email_domains import blocklist


def email_disposable_domain(email: str) -> str:
    """The listed domain ``email`` is at — its own, or a parent, since some services hand out
    random subdomains — or "" when it is not disposable."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    labels = domain.split(".")
    for start in range(len(labels) - 1):  # the domain, then each parent above its TLD
        candidate = ".".join(labels[start:])
        if candidate in blocklist:
            return candidate
    return ""


def email_is_disposable(email: str) -> bool:
    return bool(email) and bool(email_disposable_domain(email))
