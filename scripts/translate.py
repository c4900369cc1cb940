"""Update the Russian catalogue: extract strings, fill translations from JSON files, compile.

    .venv/bin/python scripts/translate.py                    # extract + compile, list what is missing
    .venv/bin/python scripts/translate.py new.json [...]     # also fill translations from files

A JSON file maps msgid → Russian text; a plural msgid (the singular form) maps to a list of the
three Russian forms; a msgid with a context is written "context\x04msgid". Entries already
translated are overwritten only when the file says so. The whole read-modify-write runs under a
file lock so that several people (or agents) working in one checkout cannot lose each other's
translations.
"""

import fcntl
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.po"
LOCK = ROOT / ".data" / "translate.lock"
MANAGE = [sys.executable, "manage.py"]
IGNORED = ["--ignore=.venv", "--ignore=.data", "--ignore=bench"]


def _key(message) -> str:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return f"{message.context}\x04{msgid}" if message.context else msgid


def catalogue_fill(translations: dict[str, str | list[str]]) -> list[str]:
    """Write the given translations into the catalogue; return the msgids still untranslated."""
    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    unknown = set(translations)
    missing = []
    for message in catalogue:
        if not message.id:
            continue
        key = _key(message)
        if key in translations:
            unknown.discard(key)
            value = translations[key]
            message.string = tuple(value) if isinstance(message.id, tuple) else value
            message.flags.discard("fuzzy")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            missing.append(key)
    if translations:  # leave gettext's own formatting alone when there is nothing to write
        with PO.open("wb") as handle:
            write_po(handle, catalogue, width=79)
    for key in sorted(unknown):
        print(f"not in the catalogue (ignored): {key!r}")
    return missing


def main(paths: list[str]) -> int:
    translations: dict[str, str | list[str]] = {}
    for path in paths:
        translations.update(json.loads(Path(path).read_text(encoding="utf-8")))
    LOCK.parent.mkdir(exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [*MANAGE, "makemessages", "-l", "ru", "--no-obsolete", "-v", "0", *IGNORED],
            cwd=ROOT,
            check=True,
        )
        missing = catalogue_fill(translations)
        subprocess.run(
            [*MANAGE, "compilemessages", "-l", "ru", "-v", "0", "--ignore=.venv"],
            cwd=ROOT,
            check=True,
        )
    for key in missing:
        print(f"untranslated: {key!r}")
    print(f"{len(missing)} untranslated message(s)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
