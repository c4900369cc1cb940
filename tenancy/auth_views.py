"""Logging in (the password, then a code for an account with two-factor authentication), the
password reset's request page, and the account's two-factor pages. docs/architecture.md,
"Logins"."""

from datetime import timedelta
from typing import cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from tenancy import login_throttle, selectors, two_factor
from tenancy.forms import (
    CodeForm,
    LoginCodeForm,
    LoginForm,
    PasswordResetForm,
    TwoFactorDisableForm,
    TwoFactorSetupForm,
)
from tenancy.models import Tenant, User
from tenancy.requests import UserRequest

# A login whose password was right and whose code is awaited: {user, backend, next, at}.
PENDING_LOGIN_SESSION_KEY = "pf_login_pending"
PENDING_LOGIN_TTL = timedelta(minutes=10)
# New recovery codes ride in the session to the one page view that shows them.
NEW_CODES_SESSION_KEY = "pf_recovery_codes"


class LoginView(auth_views.LoginView):
    """The password step. An account with two-factor authentication is not logged in yet: the
    session remembers it for the code step (``login_code``)."""

    form_class = LoginForm

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        user = form.get_user()
        if not two_factor.user_has_two_factor(user=user):
            return super().form_valid(form)
        self.request.session[PENDING_LOGIN_SESSION_KEY] = {
            "user": user.pk,
            "backend": user.backend,  # set by authenticate()
            "next": self.get_success_url(),
            "at": timezone.now().isoformat(),
        }
        return redirect("login_code")


password_reset = auth_views.PasswordResetView.as_view(
    form_class=PasswordResetForm,
    email_template_name="emails/password_reset.txt",
    html_email_template_name="emails/password_reset.html",
    subject_template_name="emails/password_reset_subject.txt",
)


def two_factor_gate(request: HttpRequest, *, tenant: Tenant | None) -> HttpResponse | None:
    """Before a program's page: a session that logged in without the code its account asks for
    gives it first; a member of a program that requires two-factor authentication who has none
    sets it up first. None: go on."""
    user = cast(User, request.user)
    if user.is_verified():  # type: ignore[attr-defined]
        return None
    query = urlencode({"next": request.get_full_path()})
    if two_factor.user_has_two_factor(user=user):
        return redirect(f"{reverse('login_code')}?{query}")
    if tenant is not None and tenant.require_two_factor:
        messages.warning(
            request,
            _("%(name)s requires two-factor authentication: set it up to open the program.")
            % {"name": tenant.name},
        )
        return redirect(f"{reverse('two_factor_setup')}?{query}")
    return None


def _safe_next(request: HttpRequest, url: str | None, default: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


def _pending_login(request: HttpRequest) -> tuple[User, dict] | None:
    pending = request.session.get(PENDING_LOGIN_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    started = parse_datetime(str(pending.get("at", "")))
    if started is None or timezone.now() - started > PENDING_LOGIN_TTL:
        return None
    user = User.objects.filter(pk=int(pending.get("user") or 0), is_active=True).first()
    return (user, pending) if user is not None else None


def _code_refused(request: HttpRequest, user: User, check: two_factor.CodeCheck) -> str:
    """Why a code was not accepted; a wrong code counts as a failed login (django-axes)."""
    if check.throttled_until is not None:
        seconds = max(1, int((check.throttled_until - timezone.now()).total_seconds()) + 1)
        return ngettext(
            "Too many wrong codes in a row: wait %(seconds)d second and try again.",
            "Too many wrong codes in a row: wait %(seconds)d seconds and try again.",
            seconds,
        ) % {"seconds": seconds}
    login_throttle.login_failure_record(request, username=user.email)
    if login_throttle.login_is_locked_out(request):
        return login_throttle.lockout_message(request, {"username": user.email})
    return _(
        "This code is not right. Check that your phone's clock is correct and use the newest code."
    )


@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The code step: after the password of an account with two-factor authentication, or for a
    session that logged in without a code (e.g. the operators' admin) before a program's page."""
    home = reverse("home")
    user: User
    if request.user.is_authenticated:
        user = request.user
        next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"), home)
        if user.is_verified() or not two_factor.user_has_two_factor(user=user):  # type: ignore[attr-defined]
            return redirect(next_url)
        pending = None
    else:
        found = _pending_login(request)
        if found is None:
            request.session.pop(PENDING_LOGIN_SESSION_KEY, None)
            messages.info(request, _("Enter your email and password to log in."))
            return redirect("login")
        user, pending = found
        next_url = _safe_next(request, pending.get("next"), home)
    form = LoginCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if not login_throttle.login_allowed(request, username=user.email):
            form.add_error(
                "code", login_throttle.lockout_message(request, {"username": user.email})
            )
            status = 429
        else:
            check = two_factor.code_check(user=user, code=form.cleaned_data["code"])
            if check.device is None:
                form.add_error("code", _code_refused(request, user, check))
            else:
                if pending is not None:
                    login(request, user, backend=pending["backend"])
                    request.session.pop(PENDING_LOGIN_SESSION_KEY, None)
                otp_login(request, check.device)
                if check.recovery_code_used:
                    left = two_factor.recovery_codes_left(user=user)
                    messages.warning(
                        request,
                        ngettext(
                            "You used a recovery code; %(count)d is left. Make new ones on the Security page.",
                            "You used a recovery code; %(count)d are left. Make new ones on the Security page.",
                            left,
                        )
                        % {"count": left},
                    )
                return redirect(next_url)
    context = {"form": form, "next": next_url if request.user.is_authenticated else ""}
    return render(request, "registration/login_code.html", context, status=status)


def _programs_requiring(user: User) -> list[str]:
    return [
        m.tenant.name
        for m in selectors.memberships_for_user(user=user)
        if m.tenant.require_two_factor
    ]


@login_required
@never_cache
def two_factor_overview(request: UserRequest) -> HttpResponse:
    """The account's Security page: two-factor authentication on or off, new recovery codes,
    turning it off (password and a code)."""
    user = request.user
    enabled = two_factor.user_has_two_factor(user=user)
    action = request.POST.get("action") if request.method == "POST" else None
    disable_form = TwoFactorDisableForm(request.POST if action == "disable" else None)
    codes_form = CodeForm(request.POST if action == "recovery_codes" else None, prefix="codes")
    status = 200
    if enabled and action == "disable" and disable_form.is_valid():
        if not user.check_password(disable_form.cleaned_data["password"]):
            login_throttle.login_failure_record(request, username=user.email)
            disable_form.add_error("password", _("This is not your password."))
        elif (
            check := two_factor.code_check(user=user, code=disable_form.cleaned_data["code"])
        ).device is None:
            disable_form.add_error("code", _code_refused(request, user, check))
        else:
            two_factor.two_factor_disable(user=user)
            messages.success(request, _("Two-factor authentication is off."))
            return redirect("two_factor")
    elif enabled and action == "recovery_codes" and codes_form.is_valid():
        check = two_factor.code_check(user=user, code=codes_form.cleaned_data["code"])
        if check.device is None:
            codes_form.add_error("code", _code_refused(request, user, check))
        else:
            request.session[NEW_CODES_SESSION_KEY] = two_factor.recovery_codes_regenerate(user=user)
            return redirect("two_factor_recovery_codes")
    if disable_form.errors or codes_form.errors:
        status = 400
    context = {
        "enabled": enabled,
        "recovery_codes_left": two_factor.recovery_codes_left(user=user) if enabled else 0,
        "disable_form": disable_form,
        "codes_form": codes_form,
        "programs_requiring": _programs_requiring(user),
    }
    return render(request, "account/two_factor.html", context, status=status)


@login_required
@never_cache
def two_factor_setup(request: UserRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), confirm with a code; then the recovery codes."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"), "")
    if two_factor.user_has_two_factor(user=user):
        return redirect("two_factor")
    device = two_factor.device_pending(user=user)
    form = TwoFactorSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = two_factor.device_confirm(user=user, device=device, code=form.cleaned_data["code"])
        if codes is None:
            form.add_error(
                "code",
                _(
                    "This code is not right. Check that your phone's clock is correct and use the newest code."
                ),
            )
        else:
            device.refresh_from_db()
            otp_login(request, device)
            request.session[NEW_CODES_SESSION_KEY] = codes
            messages.success(request, _("Two-factor authentication is on."))
            target = reverse("two_factor_recovery_codes")
            return redirect(f"{target}?next={next_url}" if next_url else target)
    context = {
        "form": form,
        "qr_svg": two_factor.qr_svg(device, title=_("QR code for your authenticator app")),
        "secret": two_factor.secret_text(device),
        "next": next_url,
        "programs_requiring": _programs_requiring(user),
    }
    return render(
        request, "account/two_factor_setup.html", context, status=400 if form.errors else 200
    )


@login_required
def two_factor_recovery_codes(request: UserRequest) -> HttpResponse:
    """New recovery codes, shown once: the session hands them to this one page view."""
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("two_factor")
    context = {
        "codes": codes,
        "codes_text": "\n".join(codes) + "\n",
        "next": _safe_next(request, request.GET.get("next"), ""),
    }
    response = render(request, "account/recovery_codes.html", context)
    add_never_cache_headers(response)
    return response
