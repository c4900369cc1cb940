"""Bad input never reaches a 500 on the API: each value that once answered a 500 (or was taken
as some other number) is a 400 problem+json naming the field, and writes nothing. The list
parameters are checked on every GET operation of the OpenAPI schema, generated from it (as
tests/cross_tenant.py walks it), not listed by hand."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from partners.conversions import partner_find
from partners.models import Conversion
from partners.signals import conversion_recorded
from payouts.models import Commission, CommissionRule
from segmentation.models import CustomSegment
from tenancy.models import IdempotencyRecord
from tenancy.scope import tenant_scope
from tests.cross_tenant import API_PARAM, Walker, _path_filled

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def _client(world) -> Client:
    # As a server answers: an exception is the response it becomes, not raised into the test.
    return Client(raise_request_exception=False, **world.api_headers())


def _problem(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    return body


def _fields(response) -> list[str | None]:
    return [error["field"] for error in _problem(response).get("errors", [])]


# Bodies


def _post(world, path: str, body: bytes | str):
    return _client(world).post(f"/api/v1/{path}", body, content_type="application/json")


def _rows(world) -> tuple[int, int, int, int]:
    with tenant_scope(world.tenant):
        return (
            Conversion.objects.count(),
            Commission.objects.count(),
            CommissionRule.objects.count(),
            CustomSegment.objects.count(),
        )


SALE = {"kind": "sale", "external_id": "bad-1", "amount": "10"}
RULE = {"name": "Ten", "kind": "sale", "model": "percent", "value": "10"}
SEGMENT_CONDITION = {"field": "name", "op": "contains", "value": "a"}


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        # More whole digits than Conversion.amount holds once converted (fixed earlier: kept).
        pytest.param(
            "conversions",
            {**SALE, "currency": "USD", "exchange_rate": "100000000000000000000"},
            ["exchange_rate"],
            id="exchange_rate overflow",
        ),
        # PostgreSQL's jsonb refuses NUL, in a value or a key, at any depth.
        pytest.param(
            "conversions",
            {**SALE, "metadata": {"order": ["ok", {"note": "a\x00b"}]}},
            ["metadata.order[1].note"],
            id="metadata NUL value",
        ),
        pytest.param(
            "conversions",
            {**SALE, "metadata": {"a\x00b": 1}},
            ["metadata.a\\u0000b"],
            id="metadata NUL key",
        ),
        pytest.param(
            "custom-segments",
            {
                "name": "Nul",
                "definition": {
                    "match": "all",
                    "conditions": [{**SEGMENT_CONDITION, "value": "a\x00"}],
                },
            },
            ["definition.conditions[0].value"],
            id="segment definition NUL",
        ),
        # Wider than bigint (and than the integer column; the model's bound held it already).
        pytest.param(
            "conversions",
            {"kind": "impression", "external_id": "bad-2", "count": 9223372036854775808},
            ["count"],
            id="count overflow",
        ),
        # Amounts and counts are plain ASCII decimals: not Arabic-Indic digits, not exponents.
        pytest.param("conversions", {**SALE, "amount": "١٠"}, ["amount"], id="amount ١٠"),
        pytest.param("conversions", {**SALE, "amount": "1e3"}, ["amount"], id="amount 1e3"),
        pytest.param("conversions", {**SALE, "amount": "NaN"}, ["amount"], id="amount NaN"),
        pytest.param(
            "conversions",
            {**SALE, "amount": "10", "exchange_rate": "1E2", "currency": "USD"},
            ["exchange_rate"],
            id="exchange_rate 1E2",
        ),
        pytest.param(
            "conversions",
            {"kind": "impression", "external_id": "bad-3", "count": "١٠"},
            ["count"],
            id="count ١٠",
        ),
        pytest.param("commission-rules", {**RULE, "value": "1e1"}, ["value"], id="rule value 1e1"),
        pytest.param(
            "commission-rules", {**RULE, "priority": "١"}, ["priority"], id="rule priority ١"
        ),
    ],
)
def test_a_bad_value_in_a_body_is_a_400_naming_it_and_writes_nothing(world_a, path, body, fields):
    before = _rows(world_a)
    assert _fields(_post(world_a, path, json.dumps(body))) == fields
    assert _rows(world_a) == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON parse error - nested too deeply."),
        ("[" * 33 + "]" * 33, "JSON parse error - nested deeper than 32 levels."),
        (
            json.dumps({**SALE, "metadata": {"x": 1}}).replace("1}", "1e400}"),
            "JSON parse error - Number too large: 1e400",
        ),
    ],
    ids=["100,000 deep", "33 deep", "1e400"],
)
def test_a_body_json_cannot_hold_is_a_400(world_a, body, detail):
    before = _rows(world_a)
    problem = _problem(_post(world_a, "conversions", body))
    assert (problem["type"], problem["detail"]) == ("urn:partnerflow:problem:parse_error", detail)
    assert _rows(world_a) == before


def test_a_10_mb_body_is_a_413_problem(world_a):
    body = json.dumps({**SALE, "metadata": {"blob": "x" * 10_000_000}})
    for key in ("", "big"):  # with a key, the key's hash reads the body first
        response = _client(world_a).post(
            "/api/v1/conversions", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
        )
        problem = _problem(response, 413)
        assert problem["type"] == "urn:partnerflow:problem:too_large"
        assert problem["detail"] == "The request body is larger than 2621440 bytes."
    with tenant_scope(world_a.tenant):
        assert not Conversion.objects.filter(external_id="bad-1").exists()


def test_a_superscript_digit_is_no_partner_id(world_a):
    # "²".isdigit() is True and int("²") fails: the reference used to be a 500.
    with tenant_scope(world_a.tenant):
        assert partner_find(tenant=world_a.tenant, reference="²") is None
        assert partner_find(tenant=world_a.tenant, reference=str(2**63)) is None
        partner = world_a.partners[0]
        assert partner_find(tenant=world_a.tenant, reference=str(partner.pk)) == partner


def test_django_s_own_400_under_api_is_a_problem(world_a):
    # A host not in ALLOWED_HOSTS: Django refuses it before any view (its HTML 400 page).
    response = _client(world_a).get("/api/v1/partners", HTTP_HOST="evil.example")
    problem = _problem(response, 400)
    assert problem["type"] == "urn:partnerflow:problem:bad_request"


# Query parameters, on every GET operation of the schema


def _get_operations() -> dict[str, dict[str, dict]]:
    """Each GET path of the API with its declared query parameters and their schemas."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path: {
            p["name"]: p.get("schema", {})
            for p in operations["get"].get("parameters", [])
            if p["in"] == "query"
        }
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/") and "get" in operations
    }


GET_OPERATIONS = _get_operations()
STRING_PARAMETERS = [
    (path, name)
    for path, params in GET_OPERATIONS.items()
    for name, schema in params.items()
    if schema.get("type") == "string"
]
PAGED = [path for path, params in GET_OPERATIONS.items() if "page_size" in params]
BY_PARTNER = [path for path, params in GET_OPERATIONS.items() if "partner" in params]


def _url(world, path: str) -> str:
    """``path`` with its ids filled by world's own objects (the walker's models)."""
    walker = Walker(world, world)
    values = {}
    for match in API_PARAM.finditer(path):
        obj = walker.object_of_b(match["name"], walker.api_model(path, match["name"]))
        assert obj is not None, walker.violations
        values[match["name"]] = str(obj.pk)
    return _path_filled(path, values)


def test_the_schema_declares_what_the_lists_read():
    # The generated cases below cover what they should: lists, their filters, pagination.
    assert len(GET_OPERATIONS) > 30
    assert {"/api/v1/links", "/api/v1/balances", "/api/v1/conversions"} <= set(PAGED)
    assert {("/api/v1/partners", "search"), ("/api/v1/partners", "tag")} <= set(STRING_PARAMETERS)
    assert len(BY_PARTNER) == 8


@pytest.mark.parametrize(("path", "name"), STRING_PARAMETERS)
def test_a_nul_in_a_string_parameter_is_a_400_naming_it(world_a, path, name):
    response = _client(world_a).get(_url(world_a, path), {name: "a\x00b"})
    assert _fields(response) == [name]


@pytest.mark.parametrize("path", GET_OPERATIONS)
def test_an_unknown_parameter_is_a_400_naming_it(world_a, path):
    response = _client(world_a).get(_url(world_a, path), {"colour": "blue"})
    assert _fields(response) == ["colour"]
    message = response.json()["errors"][0]["message"]
    declared = sorted(GET_OPERATIONS[path])
    if declared:
        assert message == f"Unknown parameter; this endpoint takes: {', '.join(declared)}."
    else:
        assert message == "Unknown parameter; this endpoint takes none."


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("value", ["0", "-1", "abc", "²"])
def test_a_bad_page_size_is_a_400(world_a, path, value):
    client, url = _client(world_a), _url(world_a, path)
    assert _fields(client.get(url, {"page_size": value})) == ["page_size"]
    assert _fields(client.get(url, {"cursor": "not-a-cursor"})) == ["cursor"]
    page = client.get(url, {"page_size": "1"})
    assert page.status_code == 200
    assert len(page.json()["results"]) <= 1


@pytest.mark.parametrize("path", BY_PARTNER)
def test_a_superscript_partner_is_a_400(world_a, path):
    client = _client(world_a)
    assert _fields(client.get(path, {"partner": "²"})) == ["partner"]
    assert _fields(client.get(path, {"partner": str(2**63)})) == ["partner"]
    assert _fields(client.get(path, {"partner": ["1", "2"]})) == ["partner"]


# The database out of reach


def _sale_sent_with_a_key(world, external_id: str):
    body = json.dumps({**SALE, "external_id": external_id, "partner": world.partners[0].code})
    return _client(world).post(
        "/api/v1/conversions",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=external_id,
    )


def _terminate(pid: int) -> bool:
    """pg_terminate_backend from a connection of its own, waiting until the backend is gone."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            return cursor.fetchone()[0]
    finally:
        other.close()


def _assert_unavailable_then_recorded_once(world, response, before, external_id: str) -> None:
    problem = _problem(response, 503)
    assert response["Retry-After"] == "1"
    assert problem == {
        "type": "urn:partnerflow:problem:database_unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The database is unavailable. Try again shortly.",
    }
    # Nothing half-written: no conversion, commission or idempotency record of the request.
    assert _rows(world) == before
    with tenant_scope(world.tenant):
        assert not IdempotencyRecord.objects.filter(key=external_id).exists()
    # The retry with the same key runs afresh (a new connection) and records it once.
    retry = _sale_sent_with_a_key(world, external_id)
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    with tenant_scope(world.tenant):
        conversion = Conversion.objects.get(external_id=external_id)
        assert Commission.objects.filter(conversion=conversion).count() >= 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_inside_the_view_is_a_503_and_nothing_is_half_written(world_a):
    """The request waits on a lock another connection holds on the commissions table, after
    its conversion's INSERT; its backend is terminated while it waits. The error reaches the
    API's exception handler (core.api_policy)."""
    before = _rows(world_a)
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    answers = []

    def send() -> None:
        try:
            answers.append(_sale_sent_with_a_key(world_a, "killed-1"))
        finally:
            connections.close_all()  # this thread's; the test client leaves them open

    request = threading.Thread(target=send)
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Commission._meta.db_table} IN EXCLUSIVE MODE")
            request.start()
            waiting = None
            for _attempt in range(200):
                # Statistics are a snapshot per transaction, and this one holds the lock.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                if (row := cursor.fetchone()) is not None:
                    waiting = row[0]
                    break
                time.sleep(0.05)
            assert waiting is not None, "the request never waited on the lock"
            assert _terminate(waiting)
    finally:
        holder.rollback()
        holder.close()
        if request.ident is not None:
            request.join(timeout=30)
    (response,) = answers
    _assert_unavailable_then_recorded_once(world_a, response, before, "killed-1")


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_before_the_commit_is_a_503_and_nothing_is_half_written(world_a):
    """The request's backend is terminated by a receiver of ``conversion_recorded``, after the
    conversion and its commissions were written: the next statement (the idempotency record,
    then the commit of ATOMIC_REQUESTS) fails outside DRF's exception handler; the API's
    middleware (core.middleware) answers."""
    killed = []

    def kill(sender, conversion, **kwargs):
        with tenant_scope(world_a.tenant):
            assert Commission.objects.filter(conversion=conversion).exists()  # written so far
        killed.append(_terminate(connection.connection.info.backend_pid))

    before = _rows(world_a)
    conversion_recorded.connect(kill, dispatch_uid="test.kill")
    try:
        response = _sale_sent_with_a_key(world_a, "killed-2")
    finally:
        conversion_recorded.disconnect(dispatch_uid="test.kill")
    assert killed == [True]
    _assert_unavailable_then_recorded_once(world_a, response, before, "killed-2")
