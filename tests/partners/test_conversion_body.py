"""The conversion API's answer is built without the ModelSerializer on the hot path
(partners.conversions_api.conversion_body): it must stay equal to what the serializer gives."""

import uuid
from datetime import timedelta

from django.utils import timezone

from partners.conversions import conversion_record
from partners.conversions_api import ConversionSerializer, conversion_body
from partners.models import Conversion
from tenancy.scope import tenant_scope


def test_the_built_answer_equals_the_serializers_for_every_shape_of_conversion(world_a):
    partner = world_a.partners[0]
    with tenant_scope(world_a.tenant):
        results = [
            conversion_record(
                tenant=world_a.tenant,
                kind="sale",
                external_id="body-sale",
                amount="1999.9",
                partner=partner.code,
                customer_external_id="body-customer",
                metadata={"cart": [1, 2], "note": "ё"},
                occurred_at=timezone.now() - timedelta(hours=3, microseconds=7),
            ),
            conversion_record(tenant=world_a.tenant, kind="lead", external_id="body-lead"),
            conversion_record(
                tenant=world_a.tenant,
                kind="impression",
                external_id="body-impressions",
                count=1500,
                click_id=uuid.uuid4(),
            ),
            conversion_record(
                tenant=world_a.tenant,
                kind="sale",
                external_id="body-fx",
                amount="10.05",
                currency="USD",
                exchange_rate="91.2345",
                partner=str(partner.pk),
            ),
        ]
        for result in results:
            assert result.created
            fresh = Conversion.objects.get(pk=result.conversion.pk)
            expected = ConversionSerializer(fresh).data
            # The answer to a new conversion (the object as recorded) and to a repeat (read back).
            assert conversion_body(result.conversion) == expected
            assert conversion_body(fresh) == expected
        assert conversion_body(results[0].conversion)["amount"] == "1999.90"
        assert conversion_body(results[0].conversion)["partner_code"] == partner.code
        assert conversion_body(results[1].conversion)["partner"] is None
        assert conversion_body(results[1].conversion)["customer_external_id"] is None


def test_the_answer_to_a_repeat_needs_no_query_of_its_own(world_a, django_assert_num_queries):
    sale = {
        "kind": "sale",
        "external_id": "body-repeat",
        "amount": "10.00",
        "partner": world_a.partners[0].code,
        "customer_external_id": "body-repeat-customer",
    }
    with tenant_scope(world_a.tenant):
        first = conversion_record(tenant=world_a.tenant, **sale)
        repeat = conversion_record(tenant=world_a.tenant, **sale)
        assert not repeat.created
        with django_assert_num_queries(0):
            body = conversion_body(repeat.conversion)
    assert body == conversion_body(first.conversion)
    assert body["customer_external_id"] == "body-repeat-customer"
