"""manage.py import_partners: row-level errors, bulk insert, re-runs import nothing twice."""

from datetime import UTC, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from partners.models import Conversion, Partner, PartnerTag, Tag
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

CSV = """email,name,code,phone,country,city,channel_type,partner_type,industry,company_size,tags,status,joined_at
anna@import.test,Anna,ANNA01,+7 900 000-00-00,RU,Moscow,blogger,influencer,beauty,small,VIP;Spring,active,2024-03-01
boris@import.test,Boris,,,RU,Kazan,niche_site,,,,Spring,pending,2024-03-02T10:00:00+03:00
not-an-email,Broken,,,,,,,,,,,
clara@import.test,Clara,,,XX,,,,,,,,
dmitry@import.test,Dmitry,,,,,tv,,,,,,
anna@import.test,Anna again,,,,,,,,,,,
eva@import.test,Eva,P00001,,,,,,,,,,
fedor@import.test,,,,,,,,,,,,
gleb@import.test,Gleb,,,,,,,,,,,yesterday
PARTNER1@a-aardvark.test,Already here,,,,,,,,,,,
"""


def run(tmp_path, world, text=CSV):
    path = tmp_path / "partners.csv"
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command(
        "import_partners", str(path), tenant=world.tenant.slug, stdout=out, stderr=err, verbosity=0
    )
    return out.getvalue(), err.getvalue().splitlines()


def test_valid_rows_are_imported_and_errors_name_their_line(
    world_a, tmp_path, django_assert_max_num_queries
):
    with all_tenants():
        Partner.unscoped.filter(pk=world_a.partners[1].pk).update(code="P00001")
    with django_assert_max_num_queries(20):
        out, errors = run(tmp_path, world_a)
    assert errors == [
        "line 4: email: 'not-an-email': Enter a valid email address.",
        "line 5: country: 'XX': Use a two-letter ISO 3166 country code such as RU.",
        "line 6: channel_type: Unknown value “tv”; choose one of: blogger, niche_site, expert, customer, adjacent.",
        "line 7: email: anna@import.test appears earlier in the file",
        "line 8: code: 'P00001' is taken in the program",
        "line 9: name: This field is required.",
        "line 10: joined_at: not an ISO date 'yesterday'",
    ]
    assert out == "Imported 2 partners, skipped 1 already in the program, 7 rows with errors.\n"
    with all_tenants():
        anna = Partner.unscoped.get(email="anna@import.test")
    assert (
        anna.tenant,
        anna.code,
        anna.geography_tier,
        anna.status,
        anna.joined_at,
    ) == (
        world_a.tenant,
        "ANNA01",
        "capital",
        "active",
        datetime(2024, 3, 1, tzinfo=ZoneInfo(world_a.tenant.timezone)),  # local midnight
    )
    with all_tenants():
        boris = Partner.unscoped.get(email="boris@import.test")
    assert (boris.status, boris.geography_tier, len(boris.code)) == ("pending", "million_plus", 8)
    with all_tenants():
        assert sorted(
            PartnerTag.unscoped.filter(partner=anna).values_list("tag__name", flat=True)
        ) == [
            "Spring",
            "VIP",
        ]
        assert Tag.unscoped.filter(tenant=world_a.tenant, name="Spring").count() == 1


def test_re_running_imports_nothing_twice(world_a, tmp_path):
    run(tmp_path, world_a)
    with all_tenants():
        count = Partner.unscoped.filter(tenant=world_a.tenant).count()
    out, _errors = run(tmp_path, world_a)
    assert out == "Imported 0 partners, skipped 5 already in the program, 5 rows with errors.\n"
    with all_tenants():
        assert Partner.unscoped.filter(tenant=world_a.tenant).count() == count
        assert PartnerTag.unscoped.filter(tag__name="Spring").count() == 2


def test_the_same_email_in_another_program_is_imported(world_a, world_b, tmp_path):
    out, _ = run(tmp_path, world_b, "email,name\nPARTNER1@a-aardvark.test,Someone\n")
    assert out.startswith("Imported 1 partners")


def test_dates_without_an_offset_are_read_in_the_program_s_time_zone(tmp_path):
    """Partners' joined_at and conversions' occurred_at alike: a date is the program's local
    midnight, a naive time is local, an offset is taken as written."""
    tenant = TenantFactory(timezone="Asia/Vladivostok")  # UTC+10, no daylight saving
    partners = tmp_path / "partners.csv"
    partners.write_text(
        "email,name,code,joined_at\n"
        "day@tz.test,Day,TZDAY,2024-03-01\n"
        "naive@tz.test,Naive,TZNAIVE,2024-03-01 09:30\n"
        "offset@tz.test,Offset,TZOFFSET,2024-03-01T09:30:00+03:00\n"
        "utc@tz.test,Utc,TZUTC,2024-03-01T09:30:00Z\n",
        encoding="utf-8",
    )
    call_command("import_partners", str(partners), tenant=tenant.slug, verbosity=0)
    conversions = tmp_path / "conversions.csv"
    conversions.write_text(
        "external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"
        "c-day,lead,TZDAY,,,,2024-03-01\n"
        "c-naive,lead,TZDAY,,,,2024-03-01 09:30\n",
        encoding="utf-8",
    )
    call_command(
        "import_conversions",
        str(conversions),
        "--tenant",
        tenant.slug,
        "--no-progress",
        stdout=StringIO(),
    )
    with tenant_scope(tenant):
        joined = dict(Partner.objects.values_list("code", "joined_at"))
        occurred = dict(Conversion.objects.values_list("external_id", "occurred_at"))
    assert joined == {
        "TZDAY": datetime(2024, 2, 29, 14, 0, tzinfo=UTC),
        "TZNAIVE": datetime(2024, 2, 29, 23, 30, tzinfo=UTC),
        "TZOFFSET": datetime(2024, 3, 1, 6, 30, tzinfo=UTC),
        "TZUTC": datetime(2024, 3, 1, 9, 30, tzinfo=UTC),
    }
    assert occurred == {
        "c-day": joined["TZDAY"],
        "c-naive": joined["TZNAIVE"],
    }
