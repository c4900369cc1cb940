"""The REST API's URL map: every app's endpoints under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tenancy.api import MemberViewSet, ProgramView

router = SimpleRouter(trailing_slash=False)
router.register("members", MemberViewSet, basename="member")

urlpatterns = [
    path("program", ProgramView.as_view(), name="api-program"),
    *router.urls,
]
