from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from tenancy import auth_views as account_views
from tenancy import views

public_urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("signup/", views.signup, name="signup"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("app/", views.program_switch, name="program_switch"),
    path(
        "accounts/login/",
        account_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/login/code/", account_views.login_code, name="login_code"),
    path("accounts/two-factor/", account_views.two_factor_overview, name="two_factor"),
    path("accounts/two-factor/setup/", account_views.two_factor_setup, name="two_factor_setup"),
    path(
        "accounts/two-factor/recovery-codes/",
        account_views.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", account_views.password_reset, name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

# Mounted under /app/<slug:tenant_slug>/
manager_urlpatterns = [
    path("settings/", views.program_settings, name="program_settings"),
    path("settings/partners/", views.program_settings_partners, name="program_settings_partners"),
    path("settings/tracking/", views.program_settings_tracking, name="program_settings_tracking"),
    path("settings/money/", views.program_settings_money, name="program_settings_money"),
    path("settings/email/", views.program_settings_email, name="program_settings_email"),
    path("settings/history/", views.program_settings_history, name="program_settings_history"),
    path("team/", views.team, name="team"),
    path("team/two-factor/", views.team_two_factor, name="team_two_factor"),
    path("team/<int:membership_id>/role/", views.team_role, name="team_role"),
    path("team/<int:membership_id>/remove/", views.team_remove, name="team_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path(
        "invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"
    ),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:apikey_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]

# Mounted under /p/<slug:tenant_slug>/: public, like the join page that shows it.
cabinet_urlpatterns = [
    path("logo", views.program_logo, name="program_logo"),
]
