"""The layout walker's parts (tests/browser/test_layout.py): the world it walks, the pages of
that world from the URL resolver, and what it checks on each page in the browser.

The world is the demo program (demo/ ``seed_demo``, a small one) topped up with the objects the
demo does not make (an invitation, an API key, a webhook endpoint and delivery, an import job,
a campaign message), so that every URL parameter of a manager or cabinet page has a real id.
The object chosen for a parameter is the demo partner's own where the model has a partner (the
partner who logs into the cabinet, a top partner with money, links and payouts), else the first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.core.management import call_command
from django.utils import timezone

from notices.models import NoticeKind
from notices.services import Occurrence, notices_create
from partners.models import Partner
from tenancy import services
from tenancy.models import Invitation, Role, Tenant, User
from tenancy.scope import tenant_scope
from tests.campaigns.world import build_campaign_world
from tests.cross_tenant import PARAM, tenant_models, tenant_pages
from tests.imports.world import build_import_world
from tests.webhooks.world import build_webhook_world

DEMO_SLUG = "demo"
DEMO_OWNER = "owner@demo.partnerflow.local"
DEMO_PARTNER = "partner@demo.partnerflow.local"
DEMO_PARTNERS = 40  # enough for every segment, a paid and an open payout batch, charts

# (width, height): a common laptop, a common phone.
LAPTOP = (1366, 900)
PHONE = (390, 844)


@dataclass
class ShowcaseWorld:
    tenant: Tenant
    owner: User
    partner_user: User
    partner: Partner
    seconds: float = 0.0


def showcase_world() -> ShowcaseWorld:
    """The demo program with one object of every kind a page's URL names."""
    started = timezone.now()
    call_command("seed_demo", partners=DEMO_PARTNERS, seed=2026, quiet=True, stdout=_Null())
    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    owner = User.objects.get(email=DEMO_OWNER)
    partner_user = User.objects.get(email=DEMO_PARTNER)
    with tenant_scope(tenant):
        partner = Partner.objects.get(user=partner_user)
        services.api_key_create(tenant=tenant, name="Интернет-магазин", created_by=owner)
        Invitation.objects.create(
            tenant=tenant,
            email="new.manager@electromarket.example",
            role=Role.MANAGER,
            invited_by=owner,
            expires_at=timezone.now() + timedelta(days=7),
        )
    build_webhook_world(tenant=tenant, marker="Electromarket")
    build_import_world(tenant=tenant, user=owner, marker="Electromarket")
    build_campaign_world(tenant=tenant, partners=[partner], marker="Electromarket")
    with tenant_scope(tenant):  # the demo writes history without notices: one for her cabinet
        notices_create(
            tenant=tenant, kind=NoticeKind.APPROVED, occurrences=[Occurrence(partner.pk)]
        )
    return ShowcaseWorld(
        tenant=tenant,
        owner=owner,
        partner_user=partner_user,
        partner=partner,
        seconds=(timezone.now() - started).total_seconds(),
    )


class _Null:
    def write(self, *_args) -> None:
        pass

    def flush(self) -> None:
        pass


@dataclass
class Routes:
    urls: dict[str, str] = field(default_factory=dict)  # url → route
    unfilled: list[str] = field(default_factory=list)  # routes without a real id


def page_urls(world: ShowcaseWorld, surface: str) -> Routes:
    """Every route of ``surface`` ("manager" or "cabinet") with its arguments filled."""
    models = tenant_models()
    routes = Routes()
    with tenant_scope(world.tenant):
        for page in tenant_pages():
            if page.surface != surface:
                continue
            values = {"tenant_slug": world.tenant.slug}
            for name in page.object_params:
                model = models.get(name.removesuffix("_id"))
                obj = None if model is None else _real_object(model, world)
                if obj is None:
                    routes.unfilled.append(f"{page.route} ({name})")
                    break
                values[name] = str(obj.pk)
            else:
                routes.urls["/" + PARAM.sub(partial(_value, values), page.route)] = page.route
    return routes


def _value(values: dict[str, str], match: re.Match) -> str:
    return values[match["name"]]


def _real_object(model, world: ShowcaseWorld):
    if model is type(world.partner):
        return world.partner
    rows = model.objects.order_by("pk")
    if any(f.name == "partner" for f in model._meta.get_fields()):
        own = rows.filter(partner=world.partner).first()
        if own is not None:
            return own
    return rows.first()


# What the walker measures on a page, in the browser. Returns a list of
# {kind, where, detail}: "page-overflow" (the page scrolls sideways), "card-overflow" (an element
# sticks out of its card and no scroll box between them holds it), "covered" (the middle of a
# visible control is another element's, after scrolling the control into view).
LAYOUT_PROBLEMS = r"""() => {
  const problems = [];
  const describe = (el) => {
    if (!el || el.nodeType !== 1) return String(el);
    const one = (e) => {
      let s = e.tagName.toLowerCase();
      if (e.id) return s + "#" + e.id;
      if (e.dataset && e.dataset.testid) return s + "[data-testid=" + e.dataset.testid + "]";
      const classes = [...e.classList].slice(0, 3);
      if (classes.length) s += "." + classes.join(".");
      return s;
    };
    const path = [];
    for (let e = el; e && e !== document.body && path.length < 4; e = e.parentElement) {
      path.unshift(one(e));
      if (e.id || (e.dataset && e.dataset.testid)) break;
    }
    const text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim()
      .replace(/\s+/g, " ").slice(0, 40);
    return path.join(" > ") + (text ? ` "${text}"` : "");
  };
  const scrolls = (el) => {
    const style = getComputedStyle(el);
    return ["auto", "scroll"].includes(style.overflowX);
  };
  const inScrollBox = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (scrolls(e)) return true;
    }
    return false;
  };
  // Laid out but not drawn (inside a closed <details>, content-visibility) counts as hidden.
  const shown = (el) => {
    if (!el.getClientRects().length) return false;
    if (!el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) return false;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "contents") return false;
    const r = el.getBoundingClientRect();
    return r.width > 2 && r.height > 2;
  };

  // 1. The page scrolls sideways.
  const root = document.scrollingElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    const widest = [...document.body.querySelectorAll("*")]
      .filter((el) => shown(el) && el.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((el) => !inScrollBox(el))
      .filter((el) => !el.parentElement
        || el.parentElement.getBoundingClientRect().right <= window.innerWidth + 1
        || el.parentElement === document.body);
    problems.push({kind: "page-overflow",
      where: widest.slice(0, 3).map(describe).join("; ") || "body",
      detail: `page ${root.scrollWidth}px wide in a ${window.innerWidth}px window`});
  }

  // 2. An element sticks out of its card.
  for (const card of document.querySelectorAll(".card")) {
    if (!shown(card)) continue;
    const edge = card.getBoundingClientRect().right;
    const walk = (el) => {
      for (const child of el.children) {
        if (scrolls(child)) continue;  // its content scrolls inside it
        const style = getComputedStyle(child);
        if (style.position === "fixed" || child.matches(".visually-hidden")) continue;
        if (shown(child) && child.getBoundingClientRect().right > edge + 1) {
          problems.push({kind: "card-overflow", where: describe(child),
            detail: `${Math.round(child.getBoundingClientRect().right - edge)}px past the right edge of ${describe(card).split(" \"")[0]}`});
          continue;  // its descendants stick out with it
        }
        // An inline <svg> clips what it draws to its own box (the browser's own style): a
        // chart's text past its edge is cut, not spilled.
        if (child.tagName.toLowerCase() !== "svg") walk(child);
      }
    };
    if (!scrolls(card)) walk(card);
  }

  // 3. A visible control whose middle belongs to another element.
  const controls = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]");
  for (const control of controls) {
    if (!shown(control) || control.closest("[inert], .visually-hidden")) continue;
    control.scrollIntoView({block: "nearest", inline: "nearest"});
    const box = control.getClientRects()[0];
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    if (x < 0 || y < 0 || x >= window.innerWidth || y >= window.innerHeight) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && (hit === control || control.contains(hit) || hit.contains(control) && hit.tagName === "LABEL")) continue;
    if (hit && control.labels && [...control.labels].some((l) => l.contains(hit))) continue;
    problems.push({kind: "covered", where: describe(control),
      detail: `its middle is ${describe(hit)}`});
  }
  window.scrollTo(0, 0);
  return problems;
}"""

# Reports each Content-Security-Policy violation to the test (a binding survives navigations;
# window state does not).
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.pfCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber} ${e.sample || ""}`);
});
"""

# Every chart element whose figure the page carries has a drawn plotly chart.
UNDRAWN_CHARTS = """() => {
  const source = document.getElementById("chart-figures");
  const figures = source ? JSON.parse(source.textContent) : {};
  const carried = (el) => el.dataset.figureJson
    ? document.getElementById(el.dataset.figureJson) !== null
    : el.dataset.figure in figures;
  return [...document.querySelectorAll("[data-figure], [data-figure-json]")]
    .filter((el) => carried(el) && !el.querySelector("svg.main-svg"))
    .map((el) => el.dataset.figure || el.dataset.figureJson);
}"""

DRAWN_CHARTS = ":is([data-figure], [data-figure-json]) > .plot-container svg.main-svg"

# The policy every page must be sent (config/settings.py); an inline script may carry the
# request's nonce.
STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}


def policy_is_strict(header: str) -> bool:
    directives = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *values = part.split()
        directives[name] = [v for v in values if not v.startswith("'nonce-")]
    return directives == STRICT


def screenshot_name(url: str, slug: str) -> str:
    """/app/demo/partners/12/ → manager-partners-id; /p/demo/ → cabinet-home."""
    path = url.split("?", 1)[0]
    surface, rest = "public", path
    for prefix, name in ((f"/app/{slug}/", "manager"), (f"/p/{slug}/", "cabinet")):
        if path.startswith(prefix):
            surface, rest = name, path.removeprefix(prefix)
            break
    rest = re.sub(r"\d+", "id", rest).strip("/")
    return f"{surface}-{re.sub(r'[^a-z0-9]+', '-', rest.lower()).strip('-') or 'home'}"
