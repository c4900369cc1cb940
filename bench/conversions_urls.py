"""The baseline beside POST /api/v1/conversions: a bare Django view doing one INSERT."""

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tenancy.views import healthz


@csrf_exempt
def one_insert(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_insert (external_id, payload) VALUES (%s, %s) RETURNING id",
            [body["external_id"], request.body.decode()],
        )
        (row_id,) = cursor.fetchone()
    return JsonResponse({"id": row_id}, status=201)


# /healthz: the bench waits for both workers to answer it before loading them.
urlpatterns = [path("api/v1/conversions", one_insert), path("healthz", healthz)]
