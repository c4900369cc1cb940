"""The API's OpenAPI document tells the truth (docs/architecture.md, API): it is valid OpenAPI
that drf-spectacular builds without a warning, every operation lists the problem+json errors
it can answer, a field is nullable wherever its model column or relation is, and Schemathesis,
fuzzing a live server that holds two programs, finds no server error and no answer that the
document does not describe."""

import subprocess
import sys
from io import StringIO

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.test import Client
from django.urls import path as url_path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from webhooks import transport

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = "application/problem+json"


@pytest.fixture
def schema() -> dict:
    return Client().get("/api/schema/?format=json").json()


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _response(schema: dict, response: dict) -> dict:
    if "$ref" in response:
        return schema["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def test_the_schema_is_valid_openapi_built_without_warnings():
    # --validate checks the document against the OpenAPI 3.0 JSON schema; --fail-on-warn turns
    # every field drf-spectacular could not type (a guess) into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_every_operation_documents_its_errors_as_problems(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors"}
    for path, method, operation in _operations(schema):
        codes = set(operation["responses"])
        expected = {"400", "401", "429", "503"}
        if "{" in path:
            expected.add("404")
        if method != "get":
            expected |= {"409", "413"}
        if "requestBody" in operation:
            expected.add("415")
        assert expected <= codes, (method, path, expected - codes)
        for code, response in operation["responses"].items():
            content = _response(schema, response).get("content", {})
            if code >= "400":
                assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            else:
                assert PROBLEM not in content
        if method != "get":
            header = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
            assert header["Idempotency-Key"]["schema"] == {"type": "string", "maxLength": 200}
        if "201" in codes:  # a creation replayed with its Idempotency-Key answers 200
            assert (
                operation["responses"]["200"]["content"]
                == (operation["responses"]["201"]["content"])
            )


def test_an_operation_declares_an_error_of_its_own_and_gets_the_problem_body():
    class Refusing(APIView):
        @extend_schema(
            request=None,
            responses={204: None, 422: OpenApiResponse(description="No partner has this code.")},
        )
        def post(self, request):
            raise NotImplementedError

    schema = SchemaGenerator(patterns=[url_path("api/v1/refusing", Refusing.as_view())]).get_schema(
        request=None, public=True
    )
    responses = schema["paths"]["/api/v1/refusing"]["post"]["responses"]
    assert responses["422"] == {
        "description": "No partner has this code.",
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    assert responses["409"] == {"$ref": "#/components/responses/Conflict"}
    assert "415" not in responses  # no JSON body to refuse


def test_balances_are_documented_as_pages(schema):
    ok = schema["paths"]["/api/v1/balances"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PaginatedBalanceList"
    page = schema["components"]["schemas"]["PaginatedBalanceList"]
    assert set(page["properties"]) == {"next", "previous", "results"}
    parameters = {p["name"] for p in schema["paths"]["/api/v1/balances"]["get"]["parameters"]}
    assert parameters == {"partner", "cursor", "page_size"}


def test_a_choice_left_blank_is_documented_with_its_blank_value(schema):
    blank = {"$ref": "#/components/schemas/BlankEnum"}
    assert schema["components"]["schemas"]["BlankEnum"]["enum"] == [""]
    partner = schema["components"]["schemas"]["Partner"]["properties"]
    for name in ("channel_type", "partner_type", "company_size", "activity_segment"):
        assert blank in partner[name]["oneOf"], name
    campaign = schema["components"]["schemas"]["Campaign"]["properties"]
    assert blank in campaign["playbook"]["oneOf"]
    transition = schema["components"]["schemas"]["Transition"]["properties"]
    assert blank in transition["from_segment"]["oneOf"]


def _subclasses(cls):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def _nullable_source(model, source_attrs: list[str]) -> bool:
    """Whether a model path (``partner.code``) can be null: a nullable column, or a nullable
    relation on the way to it."""
    for name in source_attrs:
        if model is None:  # a path past a plain column
            return False
        field = model._meta.get_field(name)
        if field.null:
            return True
        model = field.related_model
    return False


def test_a_field_read_from_a_nullable_column_is_nullable():
    """Every API serializer's field that reads a model column or relation which can be null
    is documented nullable (and answers null: without allow_null a read-only field whose
    relation is missing is left out of the answer, or answers a null the schema forbids)."""
    import config.api  # noqa: F401 - loads every API module's serializers

    missing = []
    for serializer in set(_subclasses(serializers.ModelSerializer)):
        if not serializer.__module__.endswith("api"):  # partners.api, partners.conversions_api…
            continue
        model = serializer.Meta.model
        for name, field in serializer().fields.items():
            if field.source == "*" or isinstance(
                field, serializers.SerializerMethodField | serializers.ListSerializer
            ):
                continue
            try:
                nullable = _nullable_source(model, field.source_attrs)
            except FieldDoesNotExist:  # an annotation or a property: no column behind it
                continue
            if nullable and not field.allow_null:
                missing.append(f"{serializer.__module__}.{serializer.__name__}.{name}")
    assert sorted(missing) == []


# Schemathesis against a live server

# What the answers must be: no 5xx, and each one's status, content type, headers and body as
# documented. Left out: negative_data_rejection and positive_data_acceptance judge the API's
# input checks against the schema, which cannot say that a partner code must exist or that a
# number sent for a text field is read as text; the bad-input tests cover those.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
# Each operation's examples per phase: 5 keep every phase and operation in a run of about four
# minutes less than 10 did (268 s in the whole suite), the suite's largest single cost.
MAX_EXAMPLES = 5


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_as_its_schema_says(live_server, world_a, world_b, monkeypatch, tmp_path):
    """Schemathesis' every phase (the schema's examples, its boundary and negative values,
    fuzzing, and stateful sequences that reuse the ids answers give), with program A's key,
    against a live server holding programs A and B, so that the ids it tries include B's
    (tests/cross_tenant.py proves those are 404s). Deterministic: derandomized generation
    without an example database, one worker."""

    def no_network(url, body, headers):  # webhooks the run subscribes never leave the machine
        return transport.PostResult(status=None, latency_ms=0, error="not sent in this test")

    monkeypatch.setattr(transport, "post", no_network)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live_server.url}/api/schema/",
        "--header",
        f"Authorization: Bearer {world_a.api_secret}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--suppress-health-check",
        "all",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
    ]
    # In a directory of its own: Schemathesis reads a schemathesis.toml and writes reports there.
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    output = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(output)  # the whole report, beside its cwd
    assert run.returncode == 0, output[-20000:]
