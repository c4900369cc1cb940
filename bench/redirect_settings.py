"""Benchmark-only settings: the product's settings with the bench URLconf, which adds the two
baseline views. Selected with DJANGO_SETTINGS_MODULE=bench.redirect_settings by bench/redirect.py."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.redirect_urls"
