"""Every user-facing string has a Russian translation, and the committed .mo matches the .po."""

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parent.parent
PO = REPO / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Every app of the project (a top-level folder with an apps.py), plus config and templates.
SOURCE_DIRS = sorted(
    {"config", "templates"} | {path.parent.name for path in REPO.glob("*/apps.py")}
)


def catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def test_every_message_is_translated():
    untranslated = [
        message.id
        for message in catalog(PO)
        if message.id
        and (not message.string or (isinstance(message.string, tuple) and not all(message.string)))
    ]
    fuzzy = [message.id for message in catalog(PO) if message.id and message.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_compiled_catalogue_matches_the_po_file():
    translations = gettext.GNUTranslations(MO.open("rb"))
    for message in catalog(PO):
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            assert translations.ngettext(message.id[0], message.id[1], 1) == message.string[0], (
                message.id
            )
        elif message.context:
            assert translations.pgettext(message.context, message.id) == message.string, message.id
        else:
            assert translations.gettext(message.id) == message.string, message.id


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (Debian: gettext)")
def test_no_string_is_missing_from_the_catalogue(tmp_path):
    """makemessages on a copy of the sources finds nothing the committed catalogue lacks."""
    for name in [*SOURCE_DIRS, "manage.py"]:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    shutil.copytree(REPO / "locale", tmp_path / "locale")
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ru", "--no-obsolete", "-v", "0"],
        cwd=tmp_path,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    extracted = {
        m.id for m in catalog(tmp_path / "locale" / "ru" / "LC_MESSAGES" / "django.po") if m.id
    }
    committed = {m.id for m in catalog(PO) if m.id}
    assert sorted(map(str, extracted - committed)) == []
