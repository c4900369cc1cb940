from django.urls import path

from goals import cabinet, views

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("goals/", views.goal_list, name="goal_list"),
    path("goals/new/", views.goal_create, name="goal_create"),
    path("goals/suggest/", views.goals_suggest, name="goals_suggest"),
    path("goals/drafts/", views.goal_drafts, name="goal_drafts"),
    path("goals/drafts/publish/", views.goal_drafts_publish, name="goal_drafts_publish"),
    path("goals/<int:goal_id>/", views.goal_edit, name="goal_edit"),
    path("goals/<int:goal_id>/cancel/", views.goal_cancel, name="goal_cancel"),
]

# Mounted under /p/<slug:tenant_slug>/
cabinet_urlpatterns = [
    path("goals/", cabinet.cabinet_goals, name="cabinet_goals"),
]
