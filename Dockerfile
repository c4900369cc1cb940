# syntax=docker/dockerfile:1
#
# One image for every Partnerflow process: docker-compose.yml runs it as web (gunicorn,
# the default CMD), worker (celery worker) and beat (celery beat).
#
# No HEALTHCHECK here on purpose: worker and beat share this image and serve no HTTP, so
# the /healthz check lives on the web service in docker-compose.yml.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production

WORKDIR /app

RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

# Dependencies first: this layer stays cached until pyproject.toml changes.
# pyproject.toml lists no packages, so this installs only the dependencies.
COPY pyproject.toml ./
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# The code stays root-owned (read-only to the app user); only STATIC_ROOT is writable.
COPY . .
RUN mkdir -p /app/staticfiles && chown app:app /app/staticfiles

USER app

# Production settings refuse to start without SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS and
# PAYOUT_DETAILS_KEYS.
# These throwaway values exist only for this RUN (collectstatic touches no database) and
# are not baked into the image's environment.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-collectstatic-not-a-secret \
    DATABASE_URL=postgres://build:build@localhost:5432/build \
    ALLOWED_HOSTS=localhost \
    PAYOUT_DETAILS_KEYS=build-only-not-a-key \
    python manage.py collectstatic --noinput

EXPOSE 8000

# sh -c so that WEB_CONCURRENCY is expanded at run time; exec so gunicorn gets the signals.
CMD ["sh", "-c", "exec gunicorn config.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --access-logfile -"]
