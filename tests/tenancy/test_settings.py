"""Settings profiles, imported in a subprocess with a clean environment: production refuses to
start without its secrets, and gets its safe defaults when they are given."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://app:secret@db.internal:5432/partnerflow",
    "ALLOWED_HOSTS": "partnerflow.example,www.partnerflow.example",
    "PAYOUT_DETAILS_KEYS": "Nf6Jp0lzPZ4bS1u0u3Yb0w9QvQ8aGx2h1cQmWq4bB2M=",
}

PROBE = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
from django.conf import settings
print(json.dumps({
    "DJANGO_ENV": settings.DJANGO_ENV,
    "DEBUG": settings.DEBUG,
    "SECRET_KEY_LEN": len(settings.SECRET_KEY),
    "DB": [settings.DATABASES["default"][k] for k in ("HOST", "NAME", "USER")],
    "ATOMIC_REQUESTS": settings.DATABASES["default"]["ATOMIC_REQUESTS"],
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SESSION_COOKIE_SECURE": getattr(settings, "SESSION_COOKIE_SECURE", False),
    "CSRF_COOKIE_SECURE": getattr(settings, "CSRF_COOKIE_SECURE", False),
    "SECURE_SSL_REDIRECT": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "EAGER": settings.CELERY_TASK_ALWAYS_EAGER,
    "STATIC": settings.STORAGES["staticfiles"]["BACKEND"],
    "WHITENOISE": "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE,
    "HASHERS": settings.PASSWORD_HASHERS[0],
}))
"""


def import_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PAYOUT_DETAILS_KEYS"]
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
    result = import_settings(env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert last_line(result.stderr) == (
        f"django.core.exceptions.ImproperlyConfigured: Set the {missing} environment variable"
    )


def test_production_refuses_an_empty_environment():
    result = import_settings({"DJANGO_ENV": "production"})
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: Set the SECRET_KEY environment variable"
    )


def test_an_unknown_profile_is_refused():
    result = import_settings({"DJANGO_ENV": "staging"})
    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "django.core.exceptions.ImproperlyConfigured: "
        "DJANGO_ENV must be dev, test or production, not 'staging'"
    )


def test_production_with_its_secrets_starts_with_safe_defaults():
    result = import_settings(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "DJANGO_ENV": "production",
        "DEBUG": False,
        "SECRET_KEY_LEN": 50,
        "DB": ["db.internal", "partnerflow", "app"],
        "ATOMIC_REQUESTS": True,
        "ALLOWED_HOSTS": ["partnerflow.example", "www.partnerflow.example"],
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "EAGER": False,
        "STATIC": "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "WHITENOISE": True,
        "HASHERS": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    }


def test_production_ignores_debug_from_the_environment():
    result = import_settings({**PRODUCTION_ENV, "DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DEBUG"] is False


def test_dev_profile_starts_without_any_environment():
    result = import_settings({})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DJANGO_ENV"] == "dev"
    assert values["DEBUG"] is True
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["EAGER"] is False


def test_this_test_run_uses_the_test_profile(settings):
    assert settings.DJANGO_ENV == "test"
    assert settings.DEBUG is False
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is True
