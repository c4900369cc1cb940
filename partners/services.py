"""Writes of the partners app: partners and their lifecycle, tags, referral links, coupons.

Every function validates everything first and raises ServiceError naming the bad field before
changing anything. Status changes are conditional UPDATEs (``… WHERE status IN …``) so that two
managers acting at once cannot both win.
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.email_domains import email_is_disposable
from core.errors import ConflictError, ServiceError
from core.validation import field_clean, model_validate
from partners.geography import geography_tier_for
from partners.models import (
    Coupon,
    Partner,
    PartnerStatus,
    PartnerTag,
    ReferralLink,
    Tag,
)
from partners.signals import (
    link_created,
    partner_applied,
    partner_joined,
    partner_profile_changed,
    partner_rejected,
)
from partners.tracking import link_cache_invalidate
from tenancy.models import APIKey, Membership, Tenant, User
from webhooks.services import event_publish

# Who changes a partner's status: a team member, an API key, or the system (None).
Actor = User | APIKey | None

CODE_ALPHABET = string.ascii_lowercase + string.digits

# Plain values: their rules are the model's (Partner's validators, choices, max_length).
TEXT_FIELDS = (
    "name",
    "email",
    "phone",
    "language",
    "country",
    "city",
    "channel_type",
    "partner_type",
    "industry",
    "company_size",
    "notes",
)
# Fields partner_update accepts, besides the ones with their own rules (tags, status).
UPDATABLE_FIELDS = frozenset({*TEXT_FIELDS, "manager", "recruited_by", "marketing_consent"})


def _stripped(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _clean_partner_fields(*, tenant: Tenant, data: dict, partner: Partner | None = None) -> dict:
    """Validated values of the fields present in ``data``, plus derived ones."""
    clean: dict[str, Any] = {name: _stripped(data[name]) for name in TEXT_FIELDS if name in data}
    if "email" in clean:
        clean["email"] = clean["email"].lower()
    if "country" in clean:
        clean["country"] = clean["country"].upper()
    if "language" in clean:
        clean["language"] = clean["language"] or tenant.language
    # The database's unique constraints are checked below, with messages of their own.
    model_validate(Partner(tenant=tenant, **clean), fields=clean, unique=False)
    if "email" in clean:
        taken = Partner.objects.filter(email__iexact=clean["email"])
        if partner is not None:
            taken = taken.exclude(pk=partner.pk)
        if taken.exists():
            raise ServiceError(
                _("A partner with this email is already in the program."),
                field="email",
                code="duplicate",
            )
    if "manager" in data:
        manager = data["manager"]
        if manager is not None and (
            not isinstance(manager, Membership) or manager.tenant_id != tenant.pk
        ):
            raise ServiceError(_("Choose a member of this program's team."), field="manager")
        clean["manager"] = manager
    if "recruited_by" in data:
        recruiter = data["recruited_by"]
        if recruiter is not None:
            if not isinstance(recruiter, Partner) or recruiter.tenant_id != tenant.pk:
                raise ServiceError(
                    _("The recruiter must be a partner of this program."), field="recruited_by"
                )
            if partner is not None and recruiter.pk == partner.pk:
                raise ServiceError(_("A partner cannot recruit themselves."), field="recruited_by")
        clean["recruited_by"] = recruiter
    if "marketing_consent" in data:
        consent = bool(data["marketing_consent"])
        clean["marketing_consent"] = consent
        if partner is None or consent != partner.marketing_consent:
            clean["marketing_consent_at"] = timezone.now() if consent else None
    if "country" in clean or "city" in clean:
        clean["geography_tier"] = geography_tier_for(
            country=clean.get("country", partner.country if partner else ""),
            city=clean.get("city", partner.city if partner else ""),
            home=tenant.country,
        )
    return clean


def _clean_partner_code(code: str) -> str:
    code = field_clean(Partner, "code", _stripped(code))
    if Partner.objects.filter(code__iexact=code).exists():
        raise ServiceError(
            _("This partner code is taken in the program."), field="code", code="duplicate"
        )
    return code


def partner_code_generate() -> str:
    """A fresh code, unique in the program in scope."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if not Partner.objects.filter(code__iexact=code).exists():
            return code


def partner_event(partner: Partner) -> dict:
    """The webhook payload of partner.created / partner.approved."""
    return {
        "id": partner.pk,
        "code": partner.code,
        "name": partner.name,
        "email": partner.email,
        "status": partner.status,
        "channel_type": partner.channel_type,
        "partner_type": partner.partner_type,
        "country": partner.country,
        "city": partner.city,
        "geography_tier": partner.geography_tier,
        "recruited_by": partner.recruited_by.code if partner.recruited_by else None,
        "joined_at": partner.joined_at.isoformat(),
    }


def _integrity_field(error: IntegrityError) -> str:
    text = str(error)
    if "partner_code_unique" in text:
        return "code"
    if "partner_user_unique" in text:
        return "user"
    return "email"


def partner_create(
    *,
    tenant: Tenant,
    name: str,
    email: str,
    user: User | None = None,
    code: str = "",
    phone: str = "",
    language: str = "",
    country: str = "",
    city: str = "",
    channel_type: str = "",
    partner_type: str = "",
    industry: str = "",
    company_size: str = "",
    notes: str = "",
    manager: Membership | None = None,
    recruited_by: Partner | None = None,
    marketing_consent: bool = False,
    status: str | None = None,
    joined_at: datetime | None = None,
    by: User | None = None,
) -> Partner:
    """A new partner; pending or active per the program's auto-approve setting unless
    ``status`` says otherwise. An email at a disposable mail service always waits for a
    manager's review: auto-approval does not apply to it."""
    fields = _clean_partner_fields(
        tenant=tenant,
        data={
            "name": name,
            "email": email,
            "phone": phone,
            "language": language,
            "country": country,
            "city": city,
            "channel_type": channel_type,
            "partner_type": partner_type,
            "industry": industry,
            "company_size": company_size,
            "notes": notes,
            "manager": manager,
            "recruited_by": recruited_by,
            "marketing_consent": marketing_consent,
        },
    )
    code = _clean_partner_code(code) if code else partner_code_generate()
    if status is None:
        approve = tenant.auto_approve_partners and not email_is_disposable(fields["email"])
        status = PartnerStatus.ACTIVE if approve else PartnerStatus.PENDING
    status = field_clean(Partner, "status", status)
    if user is not None and Partner.objects.filter(user=user).exists():
        raise ServiceError(
            _("This account is already a partner of the program."), field="email", code="duplicate"
        )
    now = timezone.now()
    partner = Partner(
        tenant=tenant,
        user=user,
        code=code,
        status=status,
        status_changed_at=now,
        status_changed_by=by,
        joined_at=joined_at or now,
        **fields,
    )
    try:
        with transaction.atomic():
            partner.save()
            event_publish(tenant=tenant, event="partner.created", payload=partner_event(partner))
            if partner.status == PartnerStatus.ACTIVE:
                event_publish(
                    tenant=tenant, event="partner.approved", payload=partner_event(partner)
                )
                _joined_on_commit(tenant.pk, [partner.pk])
            elif partner.status == PartnerStatus.PENDING:
                _applied_on_commit(tenant.pk, partner.pk)
            _profile_changed_on_commit(tenant.pk, partner.pk)
    except IntegrityError as error:  # a concurrent create won the race
        field = _integrity_field(error)
        raise ServiceError(
            _("A partner with this %(field)s is already in the program.") % {"field": field},
            field=field,
            code="duplicate",
        ) from None
    return partner


def partner_update(*, partner: Partner, by: User | None = None, **changes: Any) -> Partner:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        field = sorted(unknown)[0]
        raise ServiceError(_("This field cannot be changed here."), field=field)
    clean = _clean_partner_fields(tenant=partner.tenant, data=changes, partner=partner)
    for name, value in clean.items():
        setattr(partner, name, value)
    if not clean:  # nothing to write: a full save would put back whatever the object held
        return partner
    try:
        with transaction.atomic():
            partner.save(update_fields=list(clean))
            _profile_changed_on_commit(partner.tenant_id, partner.pk)
    except IntegrityError:
        raise ServiceError(
            _("A partner with this email is already in the program."),
            field="email",
            code="duplicate",
        ) from None
    return partner


def _profile_changed_on_commit(tenant_id: int, partner_id: int) -> None:
    transaction.on_commit(
        lambda: partner_profile_changed.send(
            sender=Partner, tenant_id=tenant_id, partner_ids=[partner_id]
        )
    )


# What a partner edits of her own record on the cabinet's profile page: contact details and
# profile, not her email (her login), status, manager, notes or tags (the team's).
PROFILE_FIELDS = (
    "name",
    "phone",
    "country",
    "city",
    "channel_type",
    "partner_type",
    "industry",
    "company_size",
    "language",
)


def partner_profile_update(*, partner: Partner, **changes: Any) -> Partner:
    """The partner's own profile saved from the cabinet: only PROFILE_FIELDS; a required
    question of the program's join form (its settings) may not be emptied, nor the name."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ServiceError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    required = ["name", *profile_required_fields(partner.tenant)]
    for name in required:
        if name in changes and not _stripped(changes[name]):
            raise ServiceError(_("This field is required."), field=name, code="required")
    return partner_update(partner=partner, **changes)


def profile_required_fields(tenant: Tenant) -> list[str]:
    """The join form's questions the program requires (its settings), in the form's order."""
    return [name for name, mode in tenant.join_field_modes.items() if mode == "required"]


def _partner_link_codes(partner_ids: list[int]) -> list[str]:
    return list(
        ReferralLink.objects.filter(partner_id__in=partner_ids).values_list("code", flat=True)
    )


def _status_change(
    *, partner: Partner, to: str, allowed_from: tuple[str, ...], by: Actor, reason: str
) -> Partner:
    """``by``: the team member who made the change, the API key it came through, or None (the
    system)."""
    reason = field_clean(Partner, "status_reason", _stripped(reason), field="reason")
    changed = Partner.objects.filter(pk=partner.pk, status__in=allowed_from).update(
        status=to,
        status_changed_at=timezone.now(),
        status_changed_by=by if isinstance(by, User) else None,
        status_changed_by_key=by if isinstance(by, APIKey) else None,
        status_reason=reason,
    )
    if changed != 1:
        partner.refresh_from_db(fields=["status"])
        raise ConflictError(
            _("A partner who is “%(status)s” cannot become “%(target)s”.")
            % {"status": partner.get_status_display(), "target": PartnerStatus(to).label},
            field="status",
        )
    link_cache_invalidate(_partner_link_codes([partner.pk]))
    partner.refresh_from_db()
    if to == PartnerStatus.ACTIVE:  # approved, or reinstated after a suspension
        event_publish(
            tenant=partner.tenant, event="partner.approved", payload=partner_event(partner)
        )
    return partner


def _joined_on_commit(tenant_id: int, partner_ids: list[int]) -> None:
    if partner_ids:
        transaction.on_commit(
            lambda: partner_joined.send(
                sender=Partner, tenant_id=tenant_id, partner_ids=partner_ids
            )
        )


def _applied_on_commit(tenant_id: int, partner_id: int) -> None:
    transaction.on_commit(
        lambda: partner_applied.send(sender=Partner, tenant_id=tenant_id, partner_ids=[partner_id])
    )


def partner_approve(*, partner: Partner, by: Actor) -> Partner:
    """Approve a pending partner, or reinstate a suspended one."""
    joining = Partner.objects.filter(pk=partner.pk, status=PartnerStatus.PENDING).exists()
    partner = _status_change(
        partner=partner,
        to=PartnerStatus.ACTIVE,
        allowed_from=(PartnerStatus.PENDING, PartnerStatus.SUSPENDED),
        by=by,
        reason="",
    )
    if joining:
        _joined_on_commit(partner.tenant_id, [partner.pk])
    return partner


def _required_reason(reason: str) -> str:
    reason = field_clean(Partner, "status_reason", _stripped(reason), field="reason")
    if not reason:
        raise ServiceError(_("Give a reason."), field="reason", code="required")
    return reason


def partner_reject(*, partner: Partner, reason: str, by: User | None) -> Partner:
    """Turn down a pending partner: they are archived with the reason, which their notice
    of the decision carries (notices)."""
    partner = _status_change(
        partner=partner,
        to=PartnerStatus.ARCHIVED,
        allowed_from=(PartnerStatus.PENDING,),
        by=by,
        reason=_required_reason(reason),
    )
    tenant_id, partner_id, reason = partner.tenant_id, partner.pk, partner.status_reason
    transaction.on_commit(
        lambda: partner_rejected.send(
            sender=Partner, tenant_id=tenant_id, partner_id=partner_id, reason=reason
        )
    )
    return partner


def partner_suspend(*, partner: Partner, reason: str, by: Actor) -> Partner:
    """A suspended partner's links still redirect but earn nothing."""
    return _status_change(
        partner=partner,
        to=PartnerStatus.SUSPENDED,
        allowed_from=(PartnerStatus.ACTIVE,),
        by=by,
        reason=_required_reason(reason),
    )


def partner_archive(*, partner: Partner, by: Actor, reason: str = "") -> Partner:
    return _status_change(
        partner=partner,
        to=PartnerStatus.ARCHIVED,
        allowed_from=(PartnerStatus.PENDING, PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED),
        by=by,
        reason=reason,
    )


def partners_approve_bulk(*, partner_ids: list[int], by: User | None) -> int:
    """Approve every pending partner among ``partner_ids``; returns how many were approved."""
    with transaction.atomic():
        approved = list(
            Partner.objects.filter(pk__in=partner_ids, status=PartnerStatus.PENDING)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Partner.objects.filter(pk__in=approved).update(
            status=PartnerStatus.ACTIVE,
            status_changed_at=timezone.now(),
            status_changed_by=by,
            status_reason="",
        )
        for partner in Partner.objects.filter(pk__in=approved).select_related(
            "recruited_by", "tenant"
        ):
            event_publish(
                tenant=partner.tenant, event="partner.approved", payload=partner_event(partner)
            )
    link_cache_invalidate(_partner_link_codes(approved))
    if approved:
        _joined_on_commit(Partner.objects.get(pk=approved[0]).tenant_id, approved)
    return len(approved)


def tag_get_or_create(*, tenant: Tenant, name: str) -> Tag:
    name = field_clean(Tag, "name", _stripped(name), field="tag")
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is None:
        try:
            with transaction.atomic():
                tag = Tag.objects.create(tenant=tenant, name=name)
        except IntegrityError:
            tag = Tag.objects.get(name__iexact=name)
    return tag


def partner_tag_add(*, partner: Partner, name: str) -> Tag:
    tag = tag_get_or_create(tenant=partner.tenant, name=name)
    PartnerTag.objects.bulk_create(
        [PartnerTag(tenant=partner.tenant, partner=partner, tag=tag)], ignore_conflicts=True
    )
    return tag


def partners_tag_bulk(*, tenant: Tenant, partner_ids: list[int], name: str) -> int:
    """Tag every partner among ``partner_ids`` (of the program in scope); returns how many."""
    tag = tag_get_or_create(tenant=tenant, name=name)
    ids = list(Partner.objects.filter(pk__in=partner_ids).values_list("pk", flat=True))
    PartnerTag.objects.bulk_create(
        [PartnerTag(tenant=tenant, partner_id=pk, tag=tag) for pk in ids], ignore_conflicts=True
    )
    return len(ids)


def allowed_link_domains(tenant: Tenant) -> list[str]:
    """Where partners' links may lead (the program's setting, else its website's domain)."""
    return tenant.allowed_destination_list


def link_default_destination(tenant: Tenant) -> str:
    """Where a link leads when the partner names no page: the program's website, else the home
    page of its first allowed domain ("" when the program has set neither)."""
    if tenant.website_url:
        return tenant.website_url
    domains = allowed_link_domains(tenant)
    return f"https://{domains[0]}/" if domains else ""


def _clean_destination(*, tenant: Tenant, url: str) -> str:
    url = _stripped(url) or link_default_destination(tenant)
    if not url:
        raise ServiceError(
            _("The program has not set any allowed destination yet."),
            field="destination_url",
            code="domain_not_allowed",
        )
    url = field_clean(ReferralLink, "destination_url", url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    domains = allowed_link_domains(tenant)
    if not any(host == d or host.endswith("." + d) for d in domains):
        if not domains:
            message = _("The program has not set any allowed destination yet.")
        else:
            message = _("Links may only lead to: %(domains)s.") % {"domains": ", ".join(domains)}
        raise ServiceError(message, field="destination_url", code="domain_not_allowed")
    if not tenant.deep_links_allowed and parts.path not in ("", "/"):
        # The program wants every visitor on its home page (docs/tracking.md, 'Links'); a query
        # string (utm tags) still rides along.
        raise ServiceError(
            _("This program's links lead to the home page only, e.g. https://%(domain)s/.")
            % {"domain": host},
            field="destination_url",
            code="deep_link_not_allowed",
        )
    return url


def _link_created_on_commit(link: ReferralLink) -> None:
    tenant_id, partner_id, link_id, created_at = (
        link.tenant_id,
        link.partner_id,
        link.pk,
        link.created_at,
    )
    transaction.on_commit(
        lambda: link_created.send(
            sender=ReferralLink,
            tenant_id=tenant_id,
            partner_id=partner_id,
            link_id=link_id,
            created_at=created_at,
        )
    )


def link_create(*, partner: Partner, destination_url: str = "", sub_id: str = "") -> ReferralLink:
    """A partner's new link to ``destination_url`` (empty: the program's website), which must
    lie on the program's allowed domains — only their home pages without deep links."""
    if partner.status != PartnerStatus.ACTIVE:
        raise ServiceError(
            _("Only active partners can create links."), field="partner", code="inactive"
        )
    url = _clean_destination(tenant=partner.tenant, url=destination_url)
    sub_id = field_clean(ReferralLink, "sub_id", _stripped(sub_id))
    for _attempt in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        try:
            with transaction.atomic():
                link = ReferralLink.objects.create(
                    tenant=partner.tenant,
                    partner=partner,
                    code=code,
                    destination_url=url,
                    sub_id=sub_id,
                )
        except IntegrityError:
            continue
        link_cache_invalidate([code])  # drop a cached "unknown code" answer
        _link_created_on_commit(link)
        return link
    raise ServiceError(_("Could not make a unique link code; try again."))  # pragma: no cover


def link_deactivate(*, link: ReferralLink) -> ReferralLink:
    ReferralLink.objects.filter(pk=link.pk).update(is_active=False)
    link.is_active = False
    link_cache_invalidate([link.code])
    return link


def coupon_create(*, partner: Partner, code: str) -> Coupon:
    code = field_clean(Coupon, "code", _stripped(code))
    if partner.status not in (PartnerStatus.ACTIVE, PartnerStatus.PENDING):
        raise ServiceError(
            _("Coupons are only for active partners."), field="partner", code="inactive"
        )
    duplicate = ServiceError(
        _("This coupon code is taken in the program."), field="code", code="duplicate"
    )
    if Coupon.objects.filter(code__iexact=code).exists():
        raise duplicate
    try:
        with transaction.atomic():
            return Coupon.objects.create(tenant=partner.tenant, partner=partner, code=code)
    except IntegrityError:
        raise duplicate from None


def partners_geography_recompute(*, tenant: Tenant) -> int:
    """Recomputes the geography tier of every partner of the program in scope, after its home
    country changed (the tiers are relative to it). One UPDATE per distinct country and city
    whose tier changes, not per partner. Returns the number of partners changed."""
    places = Partner.objects.values_list("country", "city", "geography_tier").distinct()
    changed = 0
    for country, city, tier in places:
        wanted = geography_tier_for(country=country, city=city, home=tenant.country)
        if wanted != tier:
            changed += Partner.objects.filter(
                country=country, city=city, geography_tier=tier
            ).update(geography_tier=wanted)
    return changed
