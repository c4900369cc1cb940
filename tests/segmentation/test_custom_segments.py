"""Custom segments: the condition language evaluated as one query, validation that names the
field, and membership tracking with its signal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import Partner, PartnerTag, Tag
from segmentation import custom_segments, services
from segmentation.conditions import DefinitionInvalid, definition_clean
from segmentation.custom_segments import CustomSegmentInvalid
from segmentation.models import CustomSegment, CustomSegmentMembership, SegmentMembership
from segmentation.selectors import custom_segment_partners, definition_partners, local_today
from segmentation.signals import custom_segment_changed
from tenancy.scope import all_tenants, tenant_scope
from tests.factories import PartnerFactory, TenantFactory, UserFactory
from tests.segmentation.conftest import local, make_partners, sale, save_conversions
from webhooks.models import WebhookEndpoint, WebhookEvent

NEWCOMER_BLOGGERS = {
    "match": "all",
    "conditions": [
        {"field": "activity_segment", "op": "in", "value": ["newcomer"]},
        {"field": "joined_days_ago", "op": "gt", "value": 30},
        {"field": "geography_tier", "op": "in", "value": ["million_plus"]},
        {"field": "channel_type", "op": "in", "value": ["blogger"]},
    ],
}


class World:
    """Partners around the example's edges: one matches, each other misses by one attribute."""

    def __init__(self) -> None:
        self.tenant = TenantFactory(timezone="Europe/Moscow")
        self.today = local_today(tenant=self.tenant)
        old = timezone.now() - timedelta(days=45)

        def partner(name, **fields):
            defaults = {
                "status": "active",
                "activity_segment": "newcomer",
                "channel_type": "blogger",
                "country": "RU",
                "city": "Kazan",
                "geography_tier": "million_plus",
                "joined_at": old,
            }
            return PartnerFactory(tenant=self.tenant, name=name, **{**defaults, **fields})

        self.match = partner("Match")
        self.recent = partner("Joined 10 days ago", joined_at=timezone.now() - timedelta(days=10))
        self.capital = partner("Moscow", city="Moscow", geography_tier="capital")
        self.site = partner("Niche site", channel_type="niche_site")
        self.top = partner("Top", activity_segment="top")

    def scope(self):
        return tenant_scope(self.tenant)

    def flag_at_risk(self, partner) -> None:
        """As a run does for an active partner the churn model thinks is leaving."""
        with self.scope():
            SegmentMembership.objects.create(
                tenant=self.tenant,
                partner=partner,
                segment=partner.activity_segment,
                since=timezone.now(),
                as_of=self.today,
                at_risk=True,
            )


@pytest.fixture
def world(db) -> World:
    return World()


def test_the_example_segment_is_one_query(world):
    with world.scope():
        segment = CustomSegment.objects.create(
            tenant=world.tenant, name="Newcomer bloggers", definition=NEWCOMER_BLOGGERS
        )
        segment.tenant  # noqa: B018 - loaded before counting queries
        partners = custom_segment_partners(segment=segment)
        with CaptureQueriesContext(connection) as queries:
            found = list(partners.values_list("name", flat=True))
    assert found == ["Match"]
    assert len(queries) == 1


def test_joined_days_boundaries_are_local_days(world):
    """Joined exactly 30 local days ago: not "more than 30", but "at least 30"."""
    start = local(world.tenant, world.today.year, world.today.month, world.today.day, 9)
    with world.scope():
        Partner.objects.update(joined_at=start - timedelta(days=30))
        with all_tenants():
            world.match.refresh_from_db()

        def names(op, days):
            definition = {
                "match": "all",
                "conditions": [{"field": "joined_days_ago", "op": op, "value": days}],
            }
            return definition_partners(tenant=world.tenant, definition=definition).count()

        assert names("gt", 30) == 0
        assert names("gte", 30) == 5
        assert names("lt", 31) == 5
        assert names("lt", 30) == 0
        assert names("lte", 30) == 5
        assert names("gt", 29) == 5


def _ids(world, *conditions, match="all") -> set[int]:
    definition = {"match": match, "conditions": list(conditions)}
    with world.scope():
        return set(
            definition_partners(tenant=world.tenant, definition=definition).values_list(
                "pk", flat=True
            )
        )


def test_metrics_over_the_last_days(world):
    tenant, today = world.tenant, world.today

    def day(age):
        return local(tenant, today.year, today.month, today.day, 12) - timedelta(days=age)

    save_conversions(
        tenant,
        [
            sale(world.match, day(0), "600.00"),
            sale(world.match, day(29), "500.00"),
            sale(world.match, day(30), "9000.00"),  # outside a 30-day window
            sale(world.recent, day(3), "400.00", refunded_amount=Decimal("100.00")),
            sale(world.capital, day(70), "5000.00"),
            sale(world.site, day(5), "800.00", status="refunded", refunded_amount=Decimal("800")),
            sale(world.site, day(2), None, kind="lead"),
        ],
    )
    revenue = {"field": "revenue", "days": 30}
    assert _ids(world, {**revenue, "op": "gte", "value": "1100"}) == {world.match.pk}
    assert _ids(world, {**revenue, "op": "gt", "value": "1100"}) == set()
    assert _ids(world, {**revenue, "op": "gte", "value": "300"}) == {
        world.match.pk,
        world.recent.pk,
    }
    # Less than 300 includes partners with nothing in the window (0), and the lead-only one.
    assert _ids(world, {**revenue, "op": "lt", "value": "300"}) == {
        world.capital.pk,
        world.site.pk,
        world.top.pk,
    }
    results = {"field": "results", "days": 30}
    assert _ids(world, {**results, "op": "gte", "value": 2}) == {world.match.pk}
    assert _ids(world, {**results, "op": "lte", "value": 0}) == {world.capital.pk, world.top.pk}
    assert _ids(world, {"field": "results", "days": 31, "op": "gte", "value": 3}) == {
        world.match.pk
    }
    last = {"field": "last_result_days_ago"}
    assert _ids(world, {**last, "op": "gt", "value": 60}) == {world.capital.pk}
    assert _ids(world, {**last, "op": "lt", "value": 3}) == {world.match.pk, world.site.pk}
    assert _ids(world, {**last, "op": "lte", "value": 3}) == {
        world.match.pk,
        world.recent.pk,
        world.site.pk,
    }
    assert _ids(world, {**last, "op": "gte", "value": 3}) == {world.recent.pk, world.capital.pk}


def test_tags_risk_text_and_any(world):
    with world.scope():
        vip = Tag.objects.create(tenant=world.tenant, name="VIP")
        PartnerTag.objects.create(tenant=world.tenant, partner=world.site, tag=vip)
    world.flag_at_risk(world.top)
    assert _ids(world, {"field": "tags", "op": "in", "value": [vip.pk]}) == {world.site.pk}
    assert len(_ids(world, {"field": "tags", "op": "not_in", "value": [vip.pk]})) == 4
    assert _ids(world, {"field": "at_risk", "op": "is", "value": True}) == {world.top.pk}
    assert world.top.pk not in _ids(world, {"field": "at_risk", "op": "is", "value": False})
    assert _ids(world, {"field": "city", "op": "in", "value": ["moscow"]}) == {world.capital.pk}
    assert _ids(
        world,
        {"field": "tags", "op": "in", "value": [vip.pk]},
        {"field": "activity_segment", "op": "in", "value": ["top"]},
        match="any",
    ) == {world.site.pk, world.top.pk}


def test_bad_definitions_name_the_field_and_write_nothing(world):
    bad = {
        "match": "some",
        "conditions": [
            {"field": "channel_type", "op": "in", "value": ["podcast"]},
            {"field": "joined_days_ago", "op": "between", "value": -1},
            {"field": "revenue", "op": "gte", "value": "lots"},
            {"field": "tags", "op": "in", "value": [999999]},
            {"field": "shoe_size", "op": "in", "value": [42]},
        ],
    }
    with world.scope(), pytest.raises(CustomSegmentInvalid) as error:
        custom_segments.custom_segment_create(tenant=world.tenant, name="  ", definition=bad)
    assert error.value.errors == {
        "name": "This field is required.",
        "definition.match": "Choose “all” or “any”.",
        "definition.conditions[0].value": (
            "Unknown value podcast; choose from: blogger, niche_site, expert, customer, adjacent."
        ),
        "definition.conditions[1].op": "Choose one of: gt, gte, lt, lte.",
        "definition.conditions[1].value": "Enter a whole number from 0 to 3650.",
        "definition.conditions[2].value": "Enter an amount of 0 or more, e.g. 5000.00.",
        "definition.conditions[2].days": "Enter a whole number from 1 to 3650.",
        "definition.conditions[3].value": "No tag with id 999999 in this program.",
        "definition.conditions[4].field": (
            "Unknown field; choose one of: activity_segment, at_risk, status, channel_type, "
            "partner_type, geography_tier, country, city, industry, company_size, language, "
            "tags, joined_days_ago, last_result_days_ago, results, revenue."
        ),
    }
    with world.scope(), pytest.raises(CustomSegmentInvalid) as error:
        custom_segments.custom_segment_create(
            tenant=world.tenant, name="Empty", definition={"conditions": []}
        )
    assert error.value.errors == {"definition.conditions": "Add at least one condition."}
    with world.scope():
        assert CustomSegment.objects.count() == 0
        assert CustomSegmentMembership.objects.count() == 0


def test_name_and_description_follow_the_models_lengths(world):
    good = {"conditions": [{"field": "status", "op": "in", "value": ["active"]}]}
    with world.scope(), pytest.raises(CustomSegmentInvalid) as error:
        custom_segments.custom_segment_create(
            tenant=world.tenant, name="n" * 101, description="d" * 1001, definition=good
        )
    assert error.value.errors == {
        "name": "Ensure this value has at most 100 characters (it has 101).",
        "description": "Ensure this value has at most 1000 characters (it has 1001).",
    }
    with world.scope():
        assert CustomSegment.objects.count() == 0


def test_a_field_or_match_of_the_wrong_type_is_named_not_a_crash():
    # A list where a name belongs was looked up in a dict: TypeError (unhashable), a 500.
    bad = {"match": ["all"], "conditions": [{"field": ["status"], "op": "in", "value": ["x"]}]}
    with pytest.raises(DefinitionInvalid) as error:
        definition_clean(bad, tag_ids=set())
    assert set(error.value.errors) == {"match", "conditions[0].field"}
    assert error.value.errors["match"] == "Choose “all” or “any”."


def test_definition_is_stored_canonical(world):
    with world.scope():
        segment = custom_segments.custom_segment_create(
            tenant=world.tenant,
            name=" Big spenders ",
            definition={
                "conditions": [
                    {"field": "country", "op": "in", "value": ["ru", "kz", "RU"]},
                    {"field": "revenue", "op": "gte", "value": 5000.5, "days": "90"},
                ]
            },
        )
    assert segment.name == "Big spenders"
    assert segment.definition == {
        "match": "all",
        "conditions": [
            {"field": "country", "op": "in", "value": ["KZ", "RU"]},
            {"field": "revenue", "op": "gte", "value": "5000.50", "days": 90},
        ],
    }
    with world.scope(), pytest.raises(CustomSegmentInvalid) as error:
        custom_segments.custom_segment_create(
            tenant=world.tenant, name="BIG SPENDERS", definition=segment.definition
        )
    assert error.value.errors == {"name": "A custom segment with this name already exists."}


@pytest.fixture
def received():
    """Every custom_segment_changed sent during the test, as its keyword arguments."""
    sent = []

    def receiver(sender, signal, **kwargs):
        sent.append(kwargs)

    custom_segment_changed.connect(receiver, weak=False)
    yield sent
    custom_segment_changed.disconnect(receiver)


def test_membership_and_signal_on_save_refresh_and_delete(
    world, received, django_capture_on_commit_callbacks
):
    owner = UserFactory()
    with world.scope():
        with django_capture_on_commit_callbacks(execute=True):
            segment = custom_segments.custom_segment_create(
                tenant=world.tenant,
                name="Newcomer bloggers",
                definition=NEWCOMER_BLOGGERS,
                by=owner,
            )
        assert received == [
            {
                "tenant_id": world.tenant.pk,
                "segment_id": segment.pk,
                "entered": [world.match.pk],
                "left": [],
            }
        ]
        first = CustomSegmentMembership.objects.get()
        assert (first.segment_id, first.partner_id) == (segment.pk, world.match.pk)
        assert segment.created_by == owner

        # Two partners change: one now matches, the member no longer does.
        Partner.objects.filter(pk=world.site.pk).update(channel_type="blogger")
        Partner.objects.filter(pk=world.match.pk).update(activity_segment="periodic")
        received.clear()
        with django_capture_on_commit_callbacks(execute=True):
            changes = custom_segments.custom_segments_refresh(tenant=world.tenant)
        assert changes == {segment.pk: ([world.site.pk], [world.match.pk])}
        assert [(r["entered"], r["left"]) for r in received] == [
            ([world.site.pk], [world.match.pk])
        ]
        assert list(CustomSegmentMembership.objects.values_list("partner_id", flat=True)) == [
            world.site.pk
        ]
        kept_since = CustomSegmentMembership.objects.get().since

        # Nothing changed: no signal, and the member keeps its "since".
        received.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert custom_segments.custom_segments_refresh(tenant=world.tenant) == {
                segment.pk: ([], [])
            }
        assert received == []
        assert CustomSegmentMembership.objects.get().since == kept_since

        segment_id = segment.pk
        with django_capture_on_commit_callbacks(execute=True):
            custom_segments.custom_segment_delete(segment=segment)
        assert received == [
            {
                "tenant_id": world.tenant.pk,
                "segment_id": segment_id,
                "entered": [],
                "left": [world.site.pk],
            }
        ]
        assert CustomSegmentMembership.objects.count() == 0


def test_the_signal_waits_for_the_commit(world, received, django_capture_on_commit_callbacks):
    with world.scope(), django_capture_on_commit_callbacks(execute=False) as callbacks:
        custom_segments.custom_segment_create(
            tenant=world.tenant, name="Newcomer bloggers", definition=NEWCOMER_BLOGGERS
        )
    assert received == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert [r["entered"] for r in received] == [[world.match.pk]]


def test_a_segment_run_refreshes_memberships_after_commit(
    world, received, django_capture_on_commit_callbacks
):
    """The run makes every approved partner without results a newcomer — "Top" (set by hand
    above) too, so it enters the segment of newcomer bloggers in million-plus cities."""
    with world.scope():
        with django_capture_on_commit_callbacks(execute=True):
            segment = custom_segments.custom_segment_create(
                tenant=world.tenant, name="Newcomer bloggers", definition=NEWCOMER_BLOGGERS
            )
        received.clear()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = services.segments_recompute(tenant=world.tenant)
        assert run.status == "succeeded"
        assert received == []  # nothing before the commit
        with django_capture_on_commit_callbacks(execute=True):  # the refresh's own commit
            for callback in callbacks:
                callback()
        assert received == [
            {
                "tenant_id": world.tenant.pk,
                "segment_id": segment.pk,
                "entered": [world.top.pk],
                "left": [],
            }
        ]
        assert sorted(
            CustomSegmentMembership.objects.values_list("partner_id", flat=True)
        ) == sorted([world.match.pk, world.top.pk])


def test_webhook_events_in_the_refresh_transaction(world, monkeypatch):
    monkeypatch.setattr(custom_segments, "WEBHOOK_CHUNK", 1)
    with world.scope():
        WebhookEndpoint.objects.create(
            tenant=world.tenant,
            url="https://hooks.example.test/pf",
            events=["custom_segment.changed"],
        )
        segment = custom_segments.custom_segment_create(
            tenant=world.tenant,
            name="Million-plus",
            definition={
                "conditions": [{"field": "geography_tier", "op": "in", "value": ["million_plus"]}]
            },
        )
        Partner.objects.filter(pk=world.match.pk).update(geography_tier="regional")
        custom_segments.custom_segments_refresh(tenant=world.tenant)
        segment_id = segment.pk
        custom_segments.custom_segment_delete(segment=segment)
        events = list(WebhookEvent.objects.order_by("pk").values_list("name", "payload"))
    member_ids = sorted([world.match.pk, world.recent.pk, world.site.pk, world.top.pk])
    stayed = [pk for pk in member_ids if pk != world.match.pk]

    def event(entered=(), left=()):
        payload = {"segment_id": segment_id, "name": "Million-plus"}
        return ("custom_segment.changed", {**payload, "entered": list(entered), "left": list(left)})

    assert events == [
        *(event(entered=[pk]) for pk in member_ids),  # created: one event per partner (chunk 1)
        event(left=[world.match.pk]),  # moved to a regional city
        *(event(left=[pk]) for pk in stayed),  # the segment deleted
    ]


def test_refresh_is_set_based(world):
    """The same number of statements whether one partner enters or fifty: one per segment plus
    a fixed few (the lock, the segments, the policy for metrics, the webhook endpoints)."""
    definitions = [
        NEWCOMER_BLOGGERS,
        {"conditions": [{"field": "revenue", "op": "gte", "value": "1", "days": 30}]},
        {"conditions": [{"field": "status", "op": "in", "value": ["active"]}]},
    ]
    with world.scope():
        for number, definition in enumerate(definitions):
            custom_segments.custom_segment_create(
                tenant=world.tenant, name=f"Segment {number}", definition=definition
            )

        def statements() -> int:
            with CaptureQueriesContext(connection) as queries:
                custom_segments.custom_segments_refresh(tenant=world.tenant)
            return len(queries)

        make_partners(world.tenant, 1, prefix="one")
        few = statements()
        make_partners(world.tenant, 50, prefix="many")
        assert statements() == few
        assert CustomSegmentMembership.objects.filter(segment__name="Segment 2").count() == 56
