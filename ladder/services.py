"""Writes of the ladder: a program's level texts, level-ups recorded from a segment run (with
their notices), and a congratulation marked seen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ServiceError
from ladder.levels import LEVELS, is_level_up, languages, level_texts, text_name
from ladder.models import LadderLevel, LevelUp
from notices.models import NoticeKind
from notices.services import Occurrence, notices_create, partner_language
from partners.models import Partner
from segmentation.models import RunTrigger, SegmentRun
from tenancy.models import Tenant, User

NAME_MAX = 40
DESCRIPTION_MAX = 400


@transaction.atomic
def ladder_texts_save(
    *,
    tenant: Tenant,
    names: Mapping[str, Mapping[str, str]],
    descriptions: Mapping[str, Mapping[str, str]],
    by: User | None = None,
) -> list[LadderLevel]:
    """Saves the program's names and descriptions of its levels: ``names[level][language]``.
    An empty text means the default in that language. Checks every field before writing any."""
    known = set(languages())
    for texts, limit, label in (
        (names, NAME_MAX, "name"),
        (descriptions, DESCRIPTION_MAX, "description"),
    ):
        for level, by_language in texts.items():
            if level not in LEVELS:
                raise ServiceError(_("Unknown level “%(level)s”.") % {"level": level}, field=label)
            for language, text in by_language.items():
                field = f"{label}_{level}_{language}"
                if language not in known:
                    raise ServiceError(
                        _("Unknown language “%(language)s”.") % {"language": language},
                        field=field,
                    )
                if len(text.strip()) > limit:
                    raise ServiceError(
                        _("At most %(limit)s characters.") % {"limit": limit}, field=field
                    )
                if "\x00" in text:
                    raise ServiceError(_("Null characters are not allowed."), field=field)
    saved = []
    for level in LEVELS:
        row, _created = LadderLevel.objects.get_or_create(tenant=tenant, segment=level)
        row.names = {k: v.strip() for k, v in names.get(level, {}).items() if v.strip()}
        row.descriptions = {
            k: v.strip() for k, v in descriptions.get(level, {}).items() if v.strip()
        }
        row.updated_by = by
        row.save()
        saved.append(row)
    return saved


# Runs that tell partners: the nightly one and "recompute now" (both as of today). An operator's
# recompute for a past date (``recompute_segments --as-of``, the demo's history) rewrites
# history and congratulates nobody.
NOTIFYING_TRIGGERS = (RunTrigger.SCHEDULE, RunTrigger.MANUAL)


def level_ups_record(
    *, tenant: Tenant, run: SegmentRun, transitions: Iterable[tuple[int, str, str]]
) -> list[LevelUp]:
    """The run's moves up the ladder: a LevelUp row each (the cabinet's congratulation) and a
    ``level_up`` notice (email and cabinet message) — each once per (partner, run), whatever
    the number of times the signal arrives. Returns the rows created."""
    if run.trigger not in NOTIFYING_TRIGGERS:
        return []
    ups = [(pid, old, new) for pid, old, new in transitions if is_level_up(old, new)]
    if not ups:
        return []
    now = timezone.now()
    rows = [
        LevelUp(
            tenant=tenant,
            partner_id=pid,
            run=run,
            from_segment=old,
            to_segment=new,
            as_of=run.as_of,
            created_at=now,
        )
        for pid, old, new in ups
    ]
    created = LevelUp.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    texts = level_texts(tenant=tenant)
    partners = {
        p.pk: p
        for p in Partner.objects.filter(pk__in=[pid for pid, _o, _n in ups]).select_related("user")
    }
    occurrences = []
    url = settings.SITE_URL + reverse("cabinet_level", args=[tenant.slug])
    for pid, old, new in ups:
        partner = partners.get(pid)
        if partner is None:
            continue
        with translation.override(partner_language(partner=partner, tenant=tenant)):
            occurrences.append(
                Occurrence(
                    partner_id=pid,
                    key=f"run:{run.pk}",
                    facts={
                        "level_name": text_name(new, texts.get(new)),
                        "previous_name": text_name(old, texts.get(old)),
                        "level_url": url,
                    },
                )
            )
    notices_create(tenant=tenant, kind=NoticeKind.LEVEL_UP, occurrences=occurrences)
    return created


def congratulation_take(*, partner: Partner) -> LevelUp | None:
    """The level-up she has not been congratulated on yet, marked seen as it is taken (so the
    cabinet shows it once); None when there is none or she has since left that level."""
    level_up = LevelUp.objects.filter(partner=partner, seen_at__isnull=True).order_by("-id").first()
    if level_up is None:
        return None
    LevelUp.objects.filter(partner=partner, seen_at__isnull=True).update(seen_at=timezone.now())
    if level_up.to_segment != partner.activity_segment:
        return None
    return level_up
