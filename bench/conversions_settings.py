"""Bench-only settings: the product's, with the baseline URLconf. Selected by the benchmark
through DJANGO_SETTINGS_MODULE=bench.conversions_settings; the product never loads this."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.conversions_urls"
