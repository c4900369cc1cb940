import functools
from typing import cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ServiceError
from tenancy import selectors, services
from tenancy.forms import (
    AcceptInvitationForm,
    APIKeyForm,
    EmailTabForm,
    InviteForm,
    MoneyTabForm,
    OwnerAccountForm,
    PartnersTabForm,
    ProgramTabForm,
    RequireTwoFactorForm,
    RoleForm,
    SettingsTabForm,
    SignupForm,
    TrackingTabForm,
)
from tenancy.models import APIKey, Invitation, Membership, User
from tenancy.requests import ProgramRequest, ScopedRequest, TeamRequest, UserRequest
from tenancy.scope import tenant_scope


def manager_page(permission: str = "view"):
    """A dashboard page. The middleware has already required a membership of this program;
    this checks the member's role allows ``permission`` (403 inside the program otherwise)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request: ScopedRequest, tenant_slug: str, **kwargs) -> HttpResponse:
            if request.membership is None:  # pragma: no cover - the middleware guarantees it
                raise PermissionDenied
            if not request.membership.can(permission):
                raise PermissionDenied(_("Your role in this program does not allow this."))
            return view(request, **kwargs)

        return wrapper

    return decorator


def public_page(view):
    """Marks a page under /p/<slug>/ that anyone may open (sign-up, login). The cross-tenant
    test then checks it shows nothing private instead of requiring a 404."""
    view.is_public = True
    return view


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    memberships = selectors.memberships_for_user(user=request.user)
    if len(memberships) == 1:
        return redirect("dashboard", tenant_slug=memberships[0].tenant.slug)
    return redirect("program_switch")


@login_required
def program_switch(request: UserRequest) -> HttpResponse:
    memberships = selectors.memberships_for_user(user=request.user)
    return render(request, "manager/program_switch.html", {"memberships": memberships})


def signup(request: HttpRequest) -> HttpResponse:
    """A visitor (or a logged-in user) creates a program and becomes its owner."""
    # The program's default language starts as the visitor's own.
    form = SignupForm(request.POST or None, initial={"language": get_language() or "ru"})
    account_form = None if request.user.is_authenticated else OwnerAccountForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and (account_form is None or account_form.is_valid())
    ):
        try:
            with transaction.atomic():
                # A logged-in visitor owns the program; an anonymous one gets an account below.
                owner = cast(User, request.user)
                if account_form is not None:
                    if services.User.objects.filter(
                        email__iexact=account_form.cleaned_data["email"]
                    ).exists():
                        raise ServiceError(
                            _("An account with this email exists: log in first to add a program."),
                            field="email",
                        )
                    owner = services.user_get_or_create(
                        email=account_form.cleaned_data["email"],
                        password=account_form.cleaned_data["password"],
                        full_name=account_form.cleaned_data["full_name"],
                    )
                tenant = services.tenant_create(
                    slug=form.cleaned_data["slug"],
                    name=form.cleaned_data["name"],
                    owner=owner,
                    currency=form.cleaned_data["currency"],
                    timezone_name=form.cleaned_data["timezone"],
                    language=form.cleaned_data["language"],
                    website_url=form.cleaned_data["website_url"],
                    country=form.cleaned_data["country"],
                )
        except ServiceError as error:
            target = (
                account_form
                if account_form is not None and error.field in account_form.fields
                else form
            )
            target.add_service_error(error)
        else:
            if account_form is not None:
                login(request, owner, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Your program “%(name)s” is ready.") % {"name": tenant.name}
            )
            return redirect("dashboard", tenant_slug=tenant.slug)
    return render(request, "signup.html", {"form": form, "account_form": account_form})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a logged-in user keeps the choice across devices."""
    from django.conf import settings

    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    # A path, never a view's name: redirect() would look "42" up as one (NoReverseMatch: a 500).
    response = HttpResponseRedirect(next_url)
    if language in dict(settings.LANGUAGES) and check_for_language(language):
        if request.user.is_authenticated:
            services.user_language_set(user=request.user, language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax"
        )
    return response


SETTINGS_TABS: dict[str, tuple[str, type[SettingsTabForm]]] = {
    "program": ("program_settings", ProgramTabForm),
    "partners": ("program_settings_partners", PartnersTabForm),
    "tracking": ("program_settings_tracking", TrackingTabForm),
    "money": ("program_settings_money", MoneyTabForm),
    "email": ("program_settings_email", EmailTabForm),
}


def _settings_tab(request: TeamRequest, section: str) -> HttpResponse:
    """A tab of the program's settings (docs/settings.md): the form shows the program's
    values, the service checks and saves them and logs each change with who made it."""
    url_name, form_class = SETTINGS_TABS[section]
    tenant = request.tenant
    previous_timezone = tenant.timezone
    form = form_class(request.POST or None, request.FILES or None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.program_settings_update(
                    tenant=tenant, data=form.settings_data(), user=request.user
                )
                if form.cleaned_data.get("logo_remove"):
                    services.program_logo_remove(tenant=tenant, user=request.user)
                elif upload := form.cleaned_data.get("logo"):
                    if upload.size > services.LOGO_MAX_BYTES:
                        raise ServiceError(_("The logo is at most 1 MB."), field="logo")
                    services.program_logo_set(
                        tenant=tenant, content=upload.read(), user=request.user
                    )
        except ServiceError as error:
            # Nothing was saved: the page shows the program as it is, beside the refused input.
            tenant.refresh_from_db()
            form.add_service_error(error)
        else:
            messages.success(request, _("Settings saved."))
            if tenant.timezone != previous_timezone:
                messages.info(
                    request,
                    _(
                        "The figures are being recomputed by the days of the new time zone;"
                        " the dashboard shows the progress."
                    ),
                )
            return redirect(url_name, tenant_slug=tenant.slug)
    context = {"form": form, "section": section}
    return render(request, "manager/settings/tab.html", context, status=400 if form.errors else 200)


@manager_page("manage_settings")
def program_settings(request: TeamRequest) -> HttpResponse:
    return _settings_tab(request, "program")


@manager_page("manage_settings")
def program_settings_partners(request: TeamRequest) -> HttpResponse:
    return _settings_tab(request, "partners")


@manager_page("manage_settings")
def program_settings_tracking(request: TeamRequest) -> HttpResponse:
    return _settings_tab(request, "tracking")


@manager_page("manage_settings")
def program_settings_money(request: TeamRequest) -> HttpResponse:
    return _settings_tab(request, "money")


@manager_page("manage_settings")
def program_settings_email(request: TeamRequest) -> HttpResponse:
    return _settings_tab(request, "email")


SETTINGS_HISTORY_PAGE = 50


@manager_page("manage_settings")
def program_settings_history(request: TeamRequest) -> HttpResponse:
    page = Paginator(selectors.settings_change_list(), SETTINGS_HISTORY_PAGE).get_page(
        request.GET.get("page")
    )
    labels = selectors.settings_field_labels()
    rows = [
        (
            change,
            labels.get(change.field, change.field),
            _setting_shown(change.field, change.old_value),
            _setting_shown(change.field, change.new_value),
        )
        for change in page
    ]
    return render(request, "manager/settings/history.html", {"page": page, "rows": rows})


def _setting_shown(field: str, value: str) -> str:
    """A logged value as the history page shows it (the log keeps it as text)."""
    if field == "logo":
        return _("a new logo") if value else ""
    if value in ("true", "false"):
        return _("yes") if value == "true" else _("no")
    return value


@public_page
def program_logo(request: ProgramRequest, tenant_slug: str) -> HttpResponse:
    """The program's logo, for its pages and its join page. Its URL carries the logo's
    version (``?v=``), so browsers may keep it for a year."""
    logo = selectors.program_logo_get()
    if logo is None:
        raise Http404("No logo.")
    response = HttpResponse(bytes(logo.content), content_type=logo.content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@manager_page("view")
def team(request: TeamRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not request.membership.can("manage_team"):
            raise PermissionDenied(_("Only owners can invite people."))
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    tenant=request.tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
                )
                return redirect("team", tenant_slug=request.tenant.slug)
    return _team_page(request, form=form)


def _team_page(
    request: TeamRequest,
    *,
    form: InviteForm | None = None,
    two_factor_form: RequireTwoFactorForm | None = None,
) -> HttpResponse:
    form = form or InviteForm()
    two_factor_form = two_factor_form or RequireTwoFactorForm(
        initial={"require_two_factor": request.tenant.require_two_factor}
    )
    context = {
        "form": form,
        "two_factor_form": two_factor_form,
        "members": selectors.membership_list(),
        "invitations": selectors.invitation_list_open(),
        "role_form": RoleForm(),
    }
    status = 400 if form.errors or two_factor_form.errors else 200
    return render(request, "manager/team.html", context, status=status)


@require_POST
@manager_page("manage_team")
def team_two_factor(request: TeamRequest) -> HttpResponse:
    """The owner's setting: everyone on the team logs in with two-factor authentication."""
    form = RequireTwoFactorForm(request.POST)
    if form.is_valid():
        required = form.cleaned_data["require_two_factor"]
        try:
            services.tenant_require_two_factor_set(
                tenant=request.tenant, required=required, by=request.user
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request,
                _("Two-factor authentication is now required from the whole team.")
                if required
                else _("Two-factor authentication is no longer required."),
            )
            return _redirect_back(request, "team")
    return _team_page(request, two_factor_form=form)


def _redirect_back(request: TeamRequest, name: str) -> HttpResponse:
    return redirect(name, tenant_slug=request.tenant.slug)


@require_POST
@manager_page("manage_team")
def team_role(request: TeamRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return _redirect_back(request, "team")
    try:
        services.membership_change_role(membership=membership, role=form.cleaned_data["role"])
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Role of %(user)s changed.") % {"user": membership.user})
    return _redirect_back(request, "team")


@require_POST
@manager_page("manage_team")
def team_remove(request: TeamRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id)
    try:
        services.membership_remove(membership=membership)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(user)s was removed from the team.") % {"user": membership.user}
        )
    return _redirect_back(request, "team")


@require_POST
@manager_page("manage_team")
def invitation_revoke(request: TeamRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    services.invitation_revoke(invitation=invitation)
    messages.success(request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email})
    return _redirect_back(request, "team")


@require_POST
@manager_page("manage_team")
def invitation_resend(request: TeamRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    try:
        services.invitation_resend(invitation=invitation)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Invitation sent again to %(email)s.") % {"email": invitation.email}
        )
    return _redirect_back(request, "team")


NEW_API_KEY_SESSION_KEY = "pf_new_api_key"


@manager_page("manage_api_keys")
def api_keys(request: TeamRequest) -> HttpResponse:
    form = APIKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _key, secret = services.api_key_create(
                tenant=request.tenant, name=form.cleaned_data["name"], created_by=request.user
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            # Post/Redirect/Get, so that reloading the page cannot create another key. The
            # secret rides in the session to the very next view of this page only.
            request.session[NEW_API_KEY_SESSION_KEY] = {
                "tenant": request.tenant.pk,
                "secret": secret,
            }
            return _redirect_back(request, "api_keys")
    new_secret = None
    if request.method == "GET":
        pending = request.session.pop(NEW_API_KEY_SESSION_KEY, None)
        if pending and pending.get("tenant") == request.tenant.pk:
            new_secret = pending["secret"]
    context = {"form": form, "keys": selectors.api_key_list(), "new_secret": new_secret}
    response = render(request, "manager/api_keys.html", context, status=400 if form.errors else 200)
    if new_secret:
        add_never_cache_headers(response)  # not from the browser's cache or back button either
    return response


@require_POST
@manager_page("manage_api_keys")
def api_key_revoke(request: TeamRequest, apikey_id: int) -> HttpResponse:
    key = get_object_or_404(APIKey, pk=apikey_id)
    services.api_key_revoke(key=key)
    messages.success(
        request, _("Key “%(name)s” revoked; requests with it now get 401.") % {"name": key.name}
    )
    return _redirect_back(request, "api_keys")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Entry point from an invitation email: the token names the program."""
    invitation = services.invitation_find(raw_token=token)
    if invitation is None:
        return render(
            request,
            "invitation_invalid.html",
            {"reason": _("This invitation link is not valid.")},
            status=404,
        )
    with tenant_scope(invitation.tenant):
        try:
            services.invitation_check_open(invitation=invitation)
        except ServiceError as error:
            return render(request, "invitation_invalid.html", {"reason": error.message}, status=410)
        user = request.user if request.user.is_authenticated else None
        form = AcceptInvitationForm(request.POST or None) if user is None else None
        error_message = None
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                services.invitation_accept(
                    invitation=invitation,
                    user=user,
                    full_name=form.cleaned_data["full_name"] if form else "",
                    password=form.cleaned_data["password"] if form else "",
                )
            except ServiceError as error:
                if form is not None and error.field in form.fields:
                    form.add_service_error(error)
                else:
                    error_message = error.message
            else:
                if user is None:
                    user = services.User.objects.get(email__iexact=invitation.email)
                    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(
                    request, _("Welcome to %(name)s.") % {"name": invitation.tenant.name}
                )
                return redirect(
                    reverse("dashboard", kwargs={"tenant_slug": invitation.tenant.slug})
                )
        context = {"invitation": invitation, "form": form, "error_message": error_message}
        return render(request, "invitation_accept.html", context)
