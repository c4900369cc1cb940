"""Step texts are Django templates rendered in a sandbox: a separate engine with no loaders
and no libraries, a whitelist of tags, and a context of plain strings only (no model objects,
so no method or attribute of ours is reachable). The context is documented in
docs/campaigns.md; ``CONTEXT_KEYS`` is its single source."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency
from django.conf import settings
from django.core import signing
from django.db.models import Max
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, Node, NodeList, TokenType
from django.template.defaulttags import ForNode
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ServiceError
from partners.models import ActivitySegment, Conversion, ConversionStatus, Partner, ReferralLink
from payouts.selectors import partner_balances
from segmentation.selectors import policy_get
from tenancy.models import Tenant

CONTEXT_KEYS: dict[str, object] = {
    "partner_name": gettext_lazy("the partner's name"),
    "program_name": gettext_lazy("the program's name"),
    "earnings": gettext_lazy("commissions earned to date, formatted: “12 340 ₽”"),
    "last_result_date": gettext_lazy("the date of the last result (empty if none)"),
    "level": gettext_lazy("the current activity segment: top, stable, periodic…"),
    "manager_name": gettext_lazy("the personal manager's name (empty if none)"),
    "cabinet_url": gettext_lazy("the partner cabinet"),
    "links_url": gettext_lazy("the cabinet's links page"),
    "profile_url": gettext_lazy("the cabinet's profile page"),
    "referral_url": gettext_lazy("the partner's first referral link (empty if none)"),
    "messages_url": gettext_lazy("the cabinet's messages and surveys"),
    "unsubscribe_url": gettext_lazy("one-click unsubscribe from marketing emails"),
}
ALLOWED_TAGS = frozenset(
    {"if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof"}
    | {"comment", "endcomment", "spaceless", "endspaceless", "now"}
)
# Filters that only shorten, case or pick: the padding and formatting filters (center, ljust,
# rjust, stringformat, floatformat…) can turn a short text into gigabytes in a shared worker.
ALLOWED_FILTERS = frozenset(
    {"default", "default_if_none", "upper", "lower", "title", "capfirst", "truncatewords"}
    | {"truncatechars", "length", "pluralize", "yesno", "first", "last", "join", "cut"}
    | {"striptags", "wordcount", "urlencode", "date", "time"}
)
# Loops inside loops multiply: two levels over the context's short strings stay small.
MAX_LOOP_DEPTH = 2
UNSUBSCRIBE_SALT = "campaigns.unsubscribe"
# As the template engine reads them: a backslash escapes the next character, so "a\"|b" is one
# literal and a filter after \" is still seen.
_STRING_LITERAL = re.compile(r"\"[^\"\\]*(?:\\.[^\"\\]*)*\"|'[^'\\]*(?:\\.[^'\\]*)*'")
_FILTER_NAME = re.compile(r"\|\s*([A-Za-z_]\w*)")

_engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False)
# Two loops over the context's strings repeat a body hundreds of thousands of times, and
# ``join`` repeats its separator per character: a text is at most MAX_TEXT_CHARS long, and what
# loops render counts against MAX_RENDERED_CHARS per message, past which the render stops.
MAX_TEXT_CHARS = 20_000
MAX_RENDERED_CHARS = 200_000


class RenderTooLarge(ValueError):
    """The text renders to more than MAX_RENDERED_CHARS for this partner."""


class _Counted(Node):
    """A node in a loop's body: what it renders counts against the message's budget."""

    child_nodelists = ()

    def __init__(self, node: Node) -> None:
        self.node, self.token, self.origin = node, node.token, node.origin

    def render(self, context) -> str:
        # django-stubs types this int | str; it returns the node's render(), a str.
        text: str = self.node.render_annotated(context)  # type: ignore[assignment]
        spent = context.render_context.get("campaign_rendered", 0) + len(text)
        if spent > MAX_RENDERED_CHARS:
            raise RenderTooLarge(
                _("The text renders to more than %(n)s characters.") % {"n": MAX_RENDERED_CHARS}
            )
        context.render_context["campaign_rendered"] = spent
        return text


def template_check(text: str, *, field: str) -> str:
    """Refuses a template that does not parse, uses a tag or a filter outside the whitelists,
    or nests loops deeper than ``MAX_LOOP_DEPTH``."""
    if len(text) > MAX_TEXT_CHARS:
        raise ServiceError(_("At most %(n)s characters.") % {"n": MAX_TEXT_CHARS}, field=field)
    depth, in_comment = 0, False
    for token in Lexer(text).tokenize():
        if in_comment:  # skipped by the engine up to its end tag, so no loop counts in it
            in_comment = not (
                token.token_type == TokenType.BLOCK and token.contents == "endcomment"
            )
            continue
        if token.token_type not in (TokenType.BLOCK, TokenType.VAR):
            continue
        # String literals are dropped first, so "a|b" in quotes is not read as a filter.
        for name in _FILTER_NAME.findall(_STRING_LITERAL.sub("", token.contents)):
            if name not in ALLOWED_FILTERS:
                raise ServiceError(
                    _("The filter “%(filter)s” is not allowed in campaign texts.")
                    % {"filter": name},
                    field=field,
                )
        if token.token_type != TokenType.BLOCK:
            continue
        name = token.contents.split()[0] if token.contents.split() else ""
        if name not in ALLOWED_TAGS:
            raise ServiceError(
                _("The tag “%(tag)s” is not allowed in campaign texts.") % {"tag": name},
                field=field,
            )
        in_comment = name == "comment"
        depth += {"for": 1, "endfor": -1}.get(name, 0)
        if depth > MAX_LOOP_DEPTH:
            raise ServiceError(
                _("Loops can be nested at most %(depth)s deep in campaign texts.")
                % {"depth": MAX_LOOP_DEPTH},
                field=field,
            )
    try:
        _engine.from_string(text)
    except TemplateSyntaxError as error:
        raise ServiceError(
            _("Template error: %(error)s") % {"error": error}, field=field, code="template"
        ) from None
    return text


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    template = _engine.from_string(text)
    for loop in template.nodelist.get_nodes_by_type(ForNode):
        # django-stubs type the nodes found as any Node, a loop's body as list[str] | NodeList.
        assert isinstance(loop, ForNode)
        assert isinstance(loop.nodelist_loop, NodeList)
        loop.nodelist_loop = NodeList(_Counted(node) for node in loop.nodelist_loop)
    return template


def render(text: str, context: dict) -> str:
    return _compiled(text).render(Context(context, autoescape=False))


def earnings_format(amount: Decimal, currency: str, language: str) -> str:
    """Whole units, grouped: “12 340 ₽” in Russian, “RUB 12,340” in English."""
    if language.startswith("ru"):
        return format_currency(
            amount, currency, format="#,##0\xa0¤", locale="ru_RU", currency_digits=False
        )
    return format_currency(
        amount, currency, format="¤\xa0#,##0", locale="en_US", currency_digits=False
    )


def unsubscribe_token(*, tenant_id: int, partner_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(f"{tenant_id}.{partner_id}")


def unsubscribe_token_read(token: str) -> tuple[int, int] | None:
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
        tenant_id, partner_id = value.split(".")
        return int(tenant_id), int(partner_id)
    except (signing.BadSignature, ValueError):
        return None


def unsubscribe_url(*, tenant_id: int, partner_id: int) -> str:
    token = unsubscribe_token(tenant_id=tenant_id, partner_id=partner_id)
    return settings.SITE_URL + reverse("campaign_unsubscribe", args=[token])


def contexts_for(
    *, tenant: Tenant, partner_ids: Iterable[int], language: str = ""
) -> dict[int, tuple[str, dict]]:
    """Each partner's language and template context (in that language, or in ``language`` when
    given: the builder's preview shows both): a fixed number of queries whatever the number of
    partners."""
    ids = list(partner_ids)
    partners = Partner.objects.filter(pk__in=ids).values(
        "pk", "name", "language", "activity_segment", "manager__user__full_name"
    )
    earned = partner_balances(partner_ids=ids)
    kinds = policy_get(tenant=tenant).counted_kinds
    last = dict(
        Conversion.objects.filter(partner_id__in=ids, kind__in=kinds)
        .exclude(status=ConversionStatus.REFUNDED)
        .values("partner_id")
        .annotate(last=Max("occurred_at"))
        .values_list("partner_id", "last")
    )
    links: dict[int, str] = {}
    redirect = settings.SITE_URL + reverse("referral_redirect", args=["-"])
    for partner_id, code in (
        ReferralLink.objects.filter(partner_id__in=ids, is_active=True)
        .order_by("partner_id", "created_at", "id")
        .values_list("partner_id", "code")
    ):
        links.setdefault(partner_id, redirect.replace("/-", "/" + code))
    base = settings.SITE_URL
    # Resolved once per batch: reverse() is costly inside a per-partner language override.
    urls = {
        "cabinet_url": base + reverse("cabinet_home", args=[tenant.slug]),
        "links_url": base + reverse("cabinet_links", args=[tenant.slug]),
        "profile_url": base + reverse("cabinet_profile", args=[tenant.slug]),
        "messages_url": base + reverse("cabinet_messages", args=[tenant.slug]),
    }
    unsubscribe = base + reverse("campaign_unsubscribe", args=["-"])
    result = {}
    chosen = language
    for row in partners:
        language = chosen or row["language"] or tenant.language
        money = earned[row["pk"]]
        total = money["pending"] + money["approved"] + money["paid"]
        with translation.override(language):
            last_at = last.get(row["pk"])
            result[row["pk"]] = (
                language,
                {
                    "partner_name": row["name"],
                    "program_name": tenant.name,
                    "earnings": earnings_format(total, tenant.currency, language),
                    # Russian without the trailing "г.": texts put the date mid-sentence or
                    # before a full stop ("— 19 июня 2026 г.." read wrong).
                    "last_result_date": formats.date_format(
                        last_at.astimezone(ZoneInfo(tenant.timezone)).date(),
                        "j E Y" if language.startswith("ru") else "DATE_FORMAT",
                    )
                    if last_at
                    else "",
                    "level": str(ActivitySegment(row["activity_segment"]).label)
                    if row["activity_segment"]
                    else "",
                    "manager_name": row["manager__user__full_name"] or "",
                    **urls,
                    "referral_url": links.get(row["pk"], ""),
                    "unsubscribe_url": unsubscribe.replace(
                        "/-/", f"/{unsubscribe_token(tenant_id=tenant.pk, partner_id=row['pk'])}/"
                    ),
                },
            )
    return result


def texts_for(step, variant, language: str) -> tuple[str, str]:
    """(subject, body) templates of a step (or its variant) in ``language``, falling back to
    the other language where one is empty."""
    sources = [variant, step] if variant is not None else [step]
    for lang in (language, "ru" if language == "en" else "en"):
        for source in sources:
            subject = getattr(source, f"subject_{lang}", "")
            body = getattr(source, f"body_{lang}", "")
            if subject or body:
                return subject, body
    return "", ""
