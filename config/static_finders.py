"""Serve the chart library's JS bundle from the installed plotly package.

plotly's Python package ships plotly.min.js; serving it ourselves keeps every page working
without internet access and pins the JS to the Python package's version.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "vendor/plotly.min.js"
_BUNDLE_DIR = Path(plotly.__file__).parent / "package_data"


class _VendorStorage(FileSystemStorage):
    # collectstatic copies a finder's files under its storage's ``prefix``.
    prefix = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = _VendorStorage(location=str(_BUNDLE_DIR))

    def check(self, **kwargs):
        if not (_BUNDLE_DIR / "plotly.min.js").exists():
            from django.core.checks import Error

            return [Error("plotly.min.js is missing from the plotly package", id="config.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != PLOTLY_STATIC_PATH:
            return [] if find_all else None
        match = str(_BUNDLE_DIR / "plotly.min.js")
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
