"""Geography tier of a partner, derived from their country and city relative to the program's
home country (docs/segmentation.md, 'Geography').

A program in Russia keeps the Russian tiers: the capitals (Moscow, St Petersburg), the
million-plus cities, the regions, abroad. Any other program is tiered by its home country: the
home country, the same part of the world, the rest of the world. The part of the world comes
from CLDR's time-zone data in Babel (each country's IANA zones; the area of most of them:
Europe, America, Asia, Africa, Australia/Pacific), so no country list is typed here. No
installed package knows capital cities (pycountry, Babel/CLDR and the IANA zones do not; a
country's main zone is named after its largest city, not its capital), so outside Russia there
is no capital tier."""

from collections import Counter
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

RUSSIA = "RU"


class GeographyTier(models.TextChoices):
    CAPITAL = "capital", _("Capital (Moscow, St Petersburg)")
    MILLION_PLUS = "million_plus", _("Million-plus city")
    REGIONAL = "regional", _("Regional")
    HOME_COUNTRY = "home_country", _("Home country")
    SAME_REGION = "same_region", _("Same part of the world")
    INTERNATIONAL = "international", _("International")
    UNKNOWN = "unknown", _("Unknown")


RUSSIAN_TIERS = (
    GeographyTier.CAPITAL,
    GeographyTier.MILLION_PLUS,
    GeographyTier.REGIONAL,
    GeographyTier.INTERNATIONAL,
    GeographyTier.UNKNOWN,
)
HOME_COUNTRY_TIERS = (
    GeographyTier.HOME_COUNTRY,
    GeographyTier.SAME_REGION,
    GeographyTier.INTERNATIONAL,
    GeographyTier.UNKNOWN,
)

# IANA time-zone areas → UN M.49 region codes (whose names CLDR translates). Areas of islands
# (Atlantic, Indian) and of no country (Antarctica, Arctic, Etc) are no part of the world.
ZONE_AREA_REGIONS = {
    "Europe": "150",
    "America": "019",
    "Asia": "142",
    "Africa": "002",
    "Australia": "009",
    "Pacific": "009",
}


CAPITALS = frozenset(
    {
        "moscow",
        "москва",
        "saint petersburg",
        "st petersburg",
        "st. petersburg",
        "санкт-петербург",
        "петербург",
        "спб",
    }
)

# Russian cities with a population of a million or more (Rosstat, 2024), English and Russian.
MILLION_PLUS_CITIES = frozenset(
    {
        "novosibirsk",
        "новосибирск",
        "yekaterinburg",
        "ekaterinburg",
        "екатеринбург",
        "kazan",
        "казань",
        "krasnoyarsk",
        "красноярск",
        "nizhny novgorod",
        "нижний новгород",
        "chelyabinsk",
        "челябинск",
        "ufa",
        "уфа",
        "samara",
        "самара",
        "rostov-on-don",
        "rostov-na-donu",
        "ростов-на-дону",
        "krasnodar",
        "краснодар",
        "omsk",
        "омск",
        "voronezh",
        "воронеж",
        "perm",
        "пермь",
        "volgograd",
        "волгоград",
    }
)


@cache
def world_regions(country: str) -> tuple[str, ...]:
    """The UN M.49 codes of the parts of the world ("150" for Europe) that the country's IANA
    time zones are in, the most frequent first (Russia: Asia, then Europe); () when unknown."""
    areas = Counter(
        ZONE_AREA_REGIONS[area]
        for zone in get_global("territory_zones").get(country, [])
        if (area := zone.split("/")[0]) in ZONE_AREA_REGIONS
    )
    return tuple(region for region, _count in areas.most_common())


def home_region(country: str) -> str:
    """The part of the world a program's home country is in: that of most of its zones."""
    regions = world_regions(country)
    return regions[0] if regions else ""


def _russian_city(city: str) -> str:
    return " ".join((city or "").strip().lower().replace("ё", "е").split())


def geography_tier_for(*, country: str, city: str, home: str = RUSSIA) -> str:
    """The tier of a partner in ``country`` / ``city`` for a program whose home country is
    ``home`` (ISO 3166 alpha-2)."""
    country = (country or "").strip().upper()
    home = (home or RUSSIA).upper()
    if not country:
        return GeographyTier.UNKNOWN
    if home == RUSSIA:
        if country != RUSSIA:
            return GeographyTier.INTERNATIONAL
        city = _russian_city(city)
        if city in CAPITALS:
            return GeographyTier.CAPITAL
        if city in MILLION_PLUS_CITIES:
            return GeographyTier.MILLION_PLUS
        return GeographyTier.REGIONAL if city else GeographyTier.UNKNOWN
    if country == home:
        return GeographyTier.HOME_COUNTRY
    # A partner's country spanning several parts of the world (Russia, Turkey's neighbours)
    # is near a program in any of them.
    region = home_region(home)
    if region and region in world_regions(country):
        return GeographyTier.SAME_REGION
    return GeographyTier.INTERNATIONAL


def _territory_name(code: str) -> str:
    """CLDR's name of a country or region in the active language."""
    try:
        locale = Locale.parse((get_language() or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        locale = Locale("en")
    return locale.territories.get(code, code)


def geography_tier_choices(home: str = RUSSIA) -> list[tuple[str, str]]:
    """The tiers of a program whose home country is ``home``, labelled for it: the Russian ones
    for Russia; the home country's and its part of the world's names for any other."""
    home = (home or RUSSIA).upper()
    if home == RUSSIA:
        return [(tier.value, str(tier.label)) for tier in RUSSIAN_TIERS]
    region = home_region(home)
    labels = {
        GeographyTier.HOME_COUNTRY: _territory_name(home),
        GeographyTier.SAME_REGION: (
            gettext("%(region)s (other countries)") % {"region": _territory_name(region)}
            if region
            else str(GeographyTier.SAME_REGION.label)
        ),
        GeographyTier.INTERNATIONAL: gettext("Rest of the world"),
        GeographyTier.UNKNOWN: str(GeographyTier.UNKNOWN.label),
    }
    return [(tier.value, labels[tier]) for tier in HOME_COUNTRY_TIERS]


def geography_tier_label(tier: str, *, home: str = RUSSIA) -> str:
    return dict(geography_tier_choices(home)).get(tier, tier)
