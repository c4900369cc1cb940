from django.urls import path

from challenges import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("challenges/", views.challenge_list, name="challenge_list"),
    path("challenges/new/", views.challenge_create, name="challenge_create"),
    path("challenges/<int:challenge_id>/", views.challenge_detail, name="challenge_detail"),
    path("challenges/<int:challenge_id>/edit/", views.challenge_edit, name="challenge_edit"),
    path(
        "challenges/<int:challenge_id>/publish/", views.challenge_publish, name="challenge_publish"
    ),
    path("challenges/<int:challenge_id>/close/", views.challenge_close, name="challenge_close"),
    path("challenges/<int:challenge_id>/delete/", views.challenge_delete, name="challenge_delete"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("challenges/", cabinet.cabinet_challenges, name="cabinet_challenges"),
    path("challenges/name/", cabinet.cabinet_board_name, name="cabinet_board_name"),
    path("challenges/<int:challenge_id>/", cabinet.cabinet_challenge, name="cabinet_challenge"),
    path(
        "challenges/<int:challenge_id>/join/",
        cabinet.cabinet_challenge_join,
        name="cabinet_challenge_join",
    ),
]
