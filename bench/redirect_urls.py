"""The product's URLs plus two baselines that exist only in the benchmark."""

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path

from config.urls import handler404
from config.urls import urlpatterns as product_urlpatterns

DESTINATION = "https://shop.example/landing"


@transaction.non_atomic_requests
def bare_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(DESTINATION)


@transaction.non_atomic_requests
def insert_redirect(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_hit (at) VALUES (now())")
    return HttpResponseRedirect(DESTINATION)


urlpatterns = [
    path("bench/bare", bare_redirect),
    path("bench/insert", insert_redirect),
    *product_urlpatterns,
]
__all__ = ["handler404", "urlpatterns"]
