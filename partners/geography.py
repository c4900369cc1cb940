"""Geography tier of a partner, derived from country and city (docs/segmentation.md,
'Segment rules', other axes)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class GeographyTier(models.TextChoices):
    CAPITAL = "capital", _("Capital (Moscow, St Petersburg)")
    MILLION_PLUS = "million_plus", _("Million-plus city")
    REGIONAL = "regional", _("Regional")
    INTERNATIONAL = "international", _("International")
    UNKNOWN = "unknown", _("Unknown")


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


def geography_tier_for(*, country: str, city: str) -> str:
    country = (country or "").strip().upper()
    city = " ".join((city or "").strip().lower().replace("ё", "е").split())
    if not country:
        return GeographyTier.UNKNOWN
    if country != "RU":
        return GeographyTier.INTERNATIONAL
    if city in CAPITALS:
        return GeographyTier.CAPITAL
    if city in MILLION_PLUS_CITIES:
        return GeographyTier.MILLION_PLUS
    return GeographyTier.REGIONAL if city else GeographyTier.UNKNOWN
