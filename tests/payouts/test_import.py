"""``manage.py import_conversions``: row errors with line numbers, valid rows in, re-runs no-ops."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from partners.models import Conversion, Customer
from payouts import services
from payouts.models import Commission, CommissionRule
from tenancy.scope import tenant_scope

HEADER = "external_id,kind,partner,customer_external_id,amount,currency,occurred_at\n"


def run(world, tmp_path, text, name="conversions.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command(
        "import_conversions",
        str(path),
        "--tenant",
        world.tenant.slug,
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_import_reports_errors_by_line_and_imports_the_rest_once(world_a, tmp_path):
    p1, p2 = world_a.partners
    with tenant_scope(world_a.tenant):
        CommissionRule.objects.create(
            name="Lead 50", kind="lead", model="fixed", value=Decimal("50")
        )
    text = (
        HEADER
        + "\n".join(
            [
                f"imp-1,sale,{p1.code.lower()},cust-1,1000.00,RUB,2025-01-10T10:00:00Z",  # line 2
                f"imp-2,sale,{p2.email.upper()},,250.50,,2025-01-11 12:00",  # line 3
                "imp-3,sale,,cust-1,300,RUB,2025-02-01T00:00:00+03:00",  # line 4: recurring
                "imp-4,lead,,,,,2025-02-02T00:00:00Z",  # line 5: unattributed
                "imp-5,sale,nobody,,100,RUB,2025-02-02T00:00:00Z",  # line 6
                "imp-6,refund,,,100,RUB,2025-02-02T00:00:00Z",  # line 7
                "imp-7,sale,,,12.345,RUB,2025-02-02T00:00:00Z",  # line 8
                "imp-8,sale,,,100,USD,2025-02-02T00:00:00Z",  # line 9
                "imp-9,sale,,,100,RUB,yesterday",  # line 10
                "imp-10,sale,,,,RUB,2025-02-02T00:00:00Z",  # line 11
                f"imp-11,lead,{p1.code},,,,2025-03-01T00:00:00Z",  # line 12
            ]
        )
        + "\n"
    )
    out, err = run(world_a, tmp_path, text)
    assert err.splitlines() == [
        "line 6: partner: no partner with the code or email 'nobody'",
        "line 7: kind: Unknown value “refund”; choose one of: lead, sale, action, impression.",
        "line 8: amount: RUB has 2 digits after the point",
        "line 9: currency: this program counts money in RUB, not USD",
        "line 10: occurred_at: 'yesterday' is not an ISO 8601 time",
        "line 11: amount: a sale needs an amount",
    ]
    with tenant_scope(world_a.tenant):
        amounts = dict(
            Commission.objects.filter(conversion__external_id__startswith="imp-").values_list(
                "conversion__external_id", "amount"
            )
        )
        assert amounts == {
            "imp-1": Decimal("100.00"),
            "imp-2": Decimal("25.05"),
            "imp-3": Decimal("30.00"),
            "imp-11": Decimal("50.00"),
        }
    assert (
        "11 rows read: 5 conversions imported, 0 already present, 6 with errors; 4 commissions created"
        in out
    )
    with tenant_scope(world_a.tenant):
        rows = {
            c.external_id: (
                c.partner_id,
                c.attribution,
                c.amount,
                c.customer.external_id if c.customer else None,
            )
            for c in Conversion.objects.filter(external_id__startswith="imp-").select_related(
                "customer"
            )
        }
        assert rows == {
            "imp-1": (p1.pk, "partner", Decimal("1000.00"), "cust-1"),
            "imp-2": (p2.pk, "partner", Decimal("250.50"), None),
            "imp-3": (p1.pk, "customer", Decimal("300.00"), "cust-1"),
            "imp-4": (None, "none", None, None),
            "imp-11": (p1.pk, "partner", None, None),
        }
        assert (
            Conversion.objects.get(external_id="imp-2").occurred_at.isoformat()
            == "2025-01-11T09:00:00+00:00"
        )  # Moscow
        amounts = dict(
            Commission.objects.filter(conversion__external_id__startswith="imp-").values_list(
                "conversion__external_id", "amount"
            )
        )
        assert amounts == {
            "imp-1": Decimal("100.00"),
            "imp-2": Decimal("25.05"),
            "imp-3": Decimal("30.00"),
            "imp-11": Decimal("50.00"),
        }
        commission = Commission.objects.get(conversion__external_id="imp-1")
        assert commission.status == "pending"
        assert commission.trace["base"]["name"] == "Aardvark sales 10%"
        assert Customer.objects.get(external_id="cust-1").partner_id == p1.pk
    out, err = run(world_a, tmp_path, text)
    assert (
        "11 rows read: 0 conversions imported, 5 already present, 6 with errors; 0 commissions created"
        in out
    )
    with tenant_scope(world_a.tenant):
        assert Conversion.objects.filter(external_id__startswith="imp-").count() == 5
        assert Commission.objects.filter(conversion__external_id__startswith="imp-").count() == 4


def test_import_refuses_a_file_without_the_columns(world_a, tmp_path):
    with pytest.raises(CommandError, match="lacks the column"):
        run(world_a, tmp_path, "external_id,kind\nx,lead\n")


def test_each_column_is_checked_by_its_model_field(world_a, tmp_path):
    """The lengths and digits of Conversion and Customer, not a copy of them: nothing is cut."""
    header = HEADER.rstrip("\n") + ",action_name\n"
    text = header + "\n".join(
        [
            "x" * 129 + ",lead,,,,,2025-02-02T00:00:00Z,",  # line 2
            f"imp-long-customer,lead,,{'c' * 129},,,2025-02-02T00:00:00Z,",  # line 3
            "imp-long-action,action,,,,,2025-02-02T00:00:00Z," + "a" * 65,  # line 4
            "imp-huge,sale,,,10000000000000000,RUB,2025-02-02T00:00:00Z,",  # line 5
            "imp-largest,sale,,,999999999999999.99,RUB,2025-02-02T00:00:00Z,",  # line 6
            ",lead,,,,,2025-02-02T00:00:00Z,",  # line 7
            "imp-zeros,sale,,,10.000,RUB,2025-02-02T00:00:00Z,",  # line 8: trailing zeros
            "imp-e30,sale,,,1e30,RUB,2025-02-02T00:00:00Z,",  # line 9: plain decimals only
            "imp-big,sale,,,1000000000000000000000000000000,RUB,2025-02-02T00:00:00Z,",  # 10
        ]
    )
    _out, err = run(world_a, tmp_path, text + "\n")
    assert err.splitlines() == [
        "line 2: external_id: Ensure this value has at most 128 characters (it has 129).",
        "line 3: customer_external_id: Ensure this value has at most 128 characters (it has 129).",
        "line 4: action_name: Ensure this value has at most 64 characters (it has 65).",
        "line 5: amount: Too large.",
        "line 7: external_id: This field is required.",
        "line 9: amount: '1e30' is not a number",
        "line 10: amount: Too large.",
    ]
    with tenant_scope(world_a.tenant):
        imported = Conversion.objects.filter(external_id__startswith="imp-")
        assert list(imported.order_by("external_id").values_list("external_id", "amount")) == [
            ("imp-largest", Decimal("999999999999999.99")),
            ("imp-zeros", Decimal("10.00")),
        ]


def test_imported_history_is_held_from_the_import(world_a, tmp_path):
    """An import may bring years-old history, but its commissions wait the hold period from
    the import: backdating does not make a sale payable at the next approval."""
    partner = world_a.partners[0]
    now = timezone.now()
    two_years_ago = (now - timedelta(days=730)).isoformat()
    run(world_a, tmp_path, HEADER + f"old-1,sale,{partner.code},,1000.00,RUB,{two_years_ago}\n")
    with tenant_scope(world_a.tenant):
        commission = Commission.objects.get(conversion__external_id="old-1")
        assert commission.conversion.occurred_at.isoformat() == two_years_ago
        assert commission.hold_until >= now + timedelta(days=30)
        assert commission.hold_until - commission.created_at == timedelta(days=30)
        services.commissions_approve_matured()
        commission.refresh_from_db()
        assert commission.status == "pending"


def test_imported_dates_more_than_ten_years_ago_are_row_errors(world_a, tmp_path):
    eleven_years_ago = (timezone.now() - timedelta(days=4018)).isoformat()
    text = (
        HEADER
        + "old-2,sale,,,1000.00,RUB,0001-01-01T00:00:00Z\n"  # line 2
        + f"old-3,sale,,,1000.00,RUB,{eleven_years_ago}\n"  # line 3
    )
    _out, err = run(world_a, tmp_path, text)
    assert err.splitlines() == [
        "line 2: occurred_at: more than 10 years ago",
        "line 3: occurred_at: more than 10 years ago",
    ]
