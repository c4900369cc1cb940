"""The hardening probe (issue 17), re-run against a live server with production settings.

    .venv/bin/python bench/probe.py [--outage 10] [--schemathesis-examples 25]

Creates (drops and recreates) the database ``partnerflow_probe_bench`` on the configured
PostgreSQL server (BENCH_SERVER_URL, default postgres://postgres@127.0.0.1:5432), migrates it
and seeds a small demo program. Starts its own ``redis-server`` on a free port (AOF on, as
docker-compose runs it), a local SMTP server, gunicorn with DJANGO_ENV=production and a Celery
worker with its beat, then tries what an attacker and an operator would try, and prints:

1. Redis stopped mid-traffic: redirects and conversion answers by status before, during and
   after the outage; clicks that got a 302 with a ``pf_click`` id but never reached PostgreSQL.
2. Formula cells: partners, a payee and a customer named like spreadsheet formulas; every
   export link of every manager page downloaded and its live formula cells counted.
3. Logins: wrong passwords on the manager and the cabinet login until the answer changes, then
   whether the right password works; password-reset emails sent for 10 requests.
4. schemathesis against the API (when installed): 5xx answers and schema violations.
Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.roles import roles_env
from bench.server import free_port, gunicorn

REPO = Path(__file__).resolve().parent.parent
DB_NAME = "partnerflow_probe_bench"
SERVER_URL = os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432")
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Export links: the pages' own download links (CSV, XLSX, the bank register).
EXPORT_LINK = re.compile(r"""href="([^"]*(?:export|register|\.csv|\.xlsx|format=)[^"]*)\"""")
PAGE_LINK = re.compile(r'href="(/app/[^"#]*)"')
ERROR_TEXT = re.compile(r'class="[^"]*(?:errorlist|alert|error)[^"]*"[^>]*>(.*?)</', re.S)


# --- processes ----------------------------------------------------------------------------


class RedisServer:
    """A redis-server of the probe's own, on a free port, with AOF on a temporary directory
    (the docker-compose settings): stop() and start() keep the port and the data."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="probe-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MailCounter:
    """A local SMTP server that counts what it is given."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[bytes] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(envelope.content)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def probe_env(redis_url: str, smtp_port: int, site_url: str) -> dict:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "probe-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PAYOUT_DETAILS_KEYS": Fernet.generate_key().decode(),
        "SECURE_SSL_REDIRECT": "false",
        # The processes connect as a role that owns nothing, under row-level security;
        # migrate runs as the owner (bench/roles.py).
        **roles_env(f"{SERVER_URL}/{DB_NAME}"),
        "REDIS_URL": redis_url,
        "CELERY_QUEUE": "partnerflow-probe",
        "CACHE_KEY_PREFIX": "pf-probe",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SITE_URL": site_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True)


def recreate_database(env: dict) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    manage(env, "migrate", "-v", "0")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "seed_demo", "--partners", "120", "--months", "3", "--quiet")


def celery_worker(env: dict, log: IO) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--beat",
            "--schedule",
            str(Path(tempfile.mkdtemp(prefix="probe-beat-")) / "schedule"),
            "--concurrency",
            "2",
            "--loglevel",
            "ERROR",
            "-Q",
            env["CELERY_QUEUE"],
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )


# --- the world the probe works in ---------------------------------------------------------


@dataclass
class World:
    slug: str
    link_code: str
    api_key: str
    owner_email: str
    partner_email: str
    password: str


def world_prepare() -> World:
    """An API key, an active partner's link, and formula-shaped names written straight to the
    database (as data from before the entry checks, or from an import, would be)."""
    from demo.management.commands.seed_demo import DEMO_PASSWORD, DEMO_SLUG, PARTNER_LOGIN, TEAM
    from partners.models import Customer, Partner, PartnerStatus, ReferralLink
    from payouts import batches
    from payouts.models import (
        PayoutBatch,
        PayoutBatchStatus,
        PayoutDetails,
        PayoutLine,
        PayoutLineStatus,
    )
    from tenancy import services
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    with tenant_scope(tenant):
        tenant.click_rate_limit_per_minute = 2_000_000_000
        tenant.save()
        link = ReferralLink.objects.filter(partner__status=PartnerStatus.ACTIVE).first()
        assert link is not None
        _key, secret = services.api_key_create(tenant=tenant, name="probe", created_by=None)
        partners = list(Partner.objects.order_by("-joined_at")[: len(FORMULAS)])
        for partner, name in zip(partners, FORMULAS, strict=False):
            Partner.objects.filter(pk=partner.pk).update(name=name)
        # The open batch approved, so its bank register has lines to export.
        for batch in PayoutBatch.objects.filter(status=PayoutBatchStatus.OPEN):
            for line in batch.lines.filter(status=PayoutLineStatus.REVIEW):
                batches.payout_line_confirm(line=line)
            batches.payout_batch_approve(batch=batch)
        # The details the payout batches' lines point at: they go to the bank register.
        PayoutDetails.objects.filter(pk__in=PayoutLine.objects.values("details")).update(
            holder_name=FORMULAS[0], bank_name=FORMULAS[3]
        )
        for customer, formula in zip(Customer.objects.all()[:5], FORMULAS, strict=False):
            Customer.objects.filter(pk=customer.pk).update(external_id=formula)
    return World(
        slug=DEMO_SLUG,
        link_code=link.code,
        api_key=secret,
        owner_email=TEAM[0][0],
        partner_email=PARTNER_LOGIN,
        password=DEMO_PASSWORD,
    )


# --- HTTP --------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


def http(
    method: str, url: str, *, body: bytes | None = None, headers: dict | None = None
) -> Answer:
    # Only http:// to the probe's own server.
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with OPENER.open(request, timeout=30) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())
    except OSError:
        return Answer(0, Message(), b"")


@dataclass
class Browser:
    """Cookies kept by hand: production cookies are Secure, and the probe talks plain HTTP to
    gunicorn as a TLS-terminating proxy would (X-Forwarded-Proto: https)."""

    base: str
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | None = None) -> Answer:
        origin = "https://" + urllib.parse.urlsplit(self.base).netloc
        headers = {"X-Forwarded-Proto": "https", "Referer": origin + "/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = http(method, self.base + path, body=body, headers=headers)
        for value in answer.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return answer

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Answer:
        if "csrftoken" not in self.cookies:
            self.get(path)
        return self.request("POST", path, form)


# --- 1. Redis stopped mid-traffic ----------------------------------------------------------


@dataclass
class Traffic:
    phase: str = "before"
    stop: bool = False
    redirects: Counter = field(default_factory=Counter)
    conversions: Counter = field(default_factory=Counter)
    click_ids: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def redirect_loop(base: str, code: str, traffic: Traffic) -> None:
    while not traffic.stop:
        answer = http("GET", f"{base}/r/{code}")
        click_id = ""
        if answer.status == 302:
            query = urllib.parse.urlsplit(answer.headers.get("Location", "")).query
            click_id = urllib.parse.parse_qs(query).get("pf_click", [""])[0]
        with traffic.lock:
            traffic.redirects[f"{traffic.phase} {answer.status}"] += 1
            if click_id:
                traffic.click_ids.append(click_id)


def conversion_loop(base: str, key: str, code: str, traffic: Traffic) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    while not traffic.stop:
        body = {
            "kind": "sale",
            "external_id": f"probe-{uuid.uuid4().hex}",
            "amount": "1990.00",
            "currency": "RUB",
            "partner": code,
        }
        answer = http(
            "POST", f"{base}/api/v1/conversions", body=json.dumps(body).encode(), headers=headers
        )
        content_type = answer.headers.get("Content-Type", "")
        kind = "problem+json" if "problem+json" in content_type else content_type.split(";")[0]
        with traffic.lock:
            traffic.conversions[f"{traffic.phase} {answer.status} {kind}"] += 1


def probe_outage(base: str, world: World, redis: RedisServer, outage: int) -> dict:
    from partners.models import Click, ReferralLink
    from tenancy.models import Tenant
    from tenancy.scope import tenant_scope

    with tenant_scope(Tenant.objects.get(slug=world.slug)):
        partner_code = ReferralLink.objects.get(code=world.link_code).partner.code
    traffic = Traffic()
    threads = [
        threading.Thread(target=redirect_loop, args=(base, world.link_code, traffic))
        for _ in range(3)
    ]
    threads.append(
        threading.Thread(target=conversion_loop, args=(base, world.api_key, partner_code, traffic))
    )
    for thread in threads:
        thread.start()
    time.sleep(3)
    traffic.phase = "during"
    redis.stop()
    time.sleep(outage)
    redis.start()
    traffic.phase = "after"
    time.sleep(5)
    traffic.stop = True
    for thread in threads:
        thread.join()
    given = set(traffic.click_ids)
    tenant = Tenant.objects.get(slug=world.slug)
    stored: set = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with tenant_scope(tenant):
            stored = {
                str(pk)
                for pk in Click.objects.filter(pk__in=list(given)).values_list("pk", flat=True)
            }
        if stored >= given:
            break
        time.sleep(2)
    return {
        "redirects": dict(sorted(traffic.redirects.items())),
        "conversions": dict(sorted(traffic.conversions.items())),
        "clicks_given": len(given),
        "clicks_stored": len(stored & given),
        "clicks_lost": len(given - stored),
    }


# --- 2. Formula cells in every export -----------------------------------------------------


def formula_cells_csv(data: bytes) -> int:
    text = data.decode("utf-8-sig", errors="replace")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return sum(1 for row in csv.reader(io.StringIO(text), dialect) for cell in row if _live(cell))


def _live(cell: str) -> bool:
    return cell.startswith(FORMULA_START) and not _plain_number(cell)


def _plain_number(cell: str) -> bool:
    return re.fullmatch(r"-?\d+(?:[.,]\d+)?", cell) is not None


def formula_cells_xlsx(data: bytes) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data))
    count = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                # A text cell is never evaluated; a formula cell is.
                if cell.data_type == "f":
                    count += 1
    return count


def login(browser: Browser, path: str, email: str, password: str) -> Answer:
    return browser.post(path, {"username": email, "password": password})


def probe_exports(base: str, world: World, max_pages: int = 250) -> dict:
    browser = Browser(base)
    login(browser, "/accounts/login/", world.owner_email, world.password)
    start = f"/app/{world.slug}/"
    seen, queue = {start}, [start]
    exports: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    while queue and len(seen) <= max_pages:
        path = queue.pop(0)
        answer = browser.get(path)
        if answer.status != 200 or "text/html" not in answer.headers.get("Content-Type", ""):
            continue
        html = answer.body.decode(errors="replace").replace("&amp;", "&")
        for link in EXPORT_LINK.findall(html):
            if link.startswith("/"):
                exports.setdefault(link, path)
        for link in PAGE_LINK.findall(html):
            fresh = link.startswith(start) and link not in seen and "logout" not in link
            # A few pages of each kind (ids and queries aside) reach every kind of page.
            kind = re.sub(r"\d+", "N", link.split("?", 1)[0])
            if fresh and kinds[kind] < 3 and not EXPORT_LINK.search(f'href="{link}"'):
                kinds[kind] += 1
                seen.add(link)
                queue.append(link)
    results = {}
    for link, page in sorted(exports.items()):
        answer = browser.get(link)
        content_type = answer.headers.get("Content-Type", "")
        if answer.status != 200:
            results[link] = {"page": page, "status": answer.status}
            continue
        if "spreadsheetml" in content_type:
            cells = formula_cells_xlsx(answer.body)
        elif "csv" in content_type:
            cells = formula_cells_csv(answer.body)
        else:
            continue
        results[link] = {"page": page, "formula_cells": cells}
    live = {link: result for link, result in results.items() if result.get("formula_cells", 1)}
    return {
        "pages": len(seen),
        "exports": len(results),
        "cells_by_export": {
            link: r.get("formula_cells", r.get("status")) for link, r in results.items()
        },
        "with_formula_cells_or_failing": live,
        "formula_cells": sum(result.get("formula_cells", 0) for result in results.values()),
    }


# --- 3. Logins ----------------------------------------------------------------------------


def _error(answer: Answer) -> str:
    found = ERROR_TEXT.findall(answer.body.decode(errors="replace"))
    return " ".join(" ".join(re.sub("<[^>]+>", " ", f).split()) for f in found)[:200]


def probe_login(base: str, path: str, email: str, password: str, tries: int = 30) -> dict:
    browser = Browser(base)
    first = login(browser, path, email, "wrong-password-0")
    answered_as_wrong, changed_at = 1, None
    for attempt in range(2, tries + 1):
        answer = login(browser, path, email, f"wrong-password-{attempt}")
        if (answer.status, _error(answer)) != (first.status, _error(first)):
            changed_at = attempt
            break
        answered_as_wrong += 1
    right = login(Browser(base), path, email, password)
    return {
        "wrong_passwords_answered_normally": answered_as_wrong,
        "cool_down_from_attempt": changed_at,
        "cool_down_message": _error(answer) if changed_at else "",
        "right_password_straight_after": "logged in" if right.status == 302 else right.status,
    }


def probe_password_reset(base: str, email: str, mail: MailCounter, requests: int = 10) -> dict:
    before = len(mail.messages)
    browser = Browser(base)
    statuses = Counter(
        browser.post("/accounts/password-reset/", {"email": email}).status for _ in range(requests)
    )
    time.sleep(2)
    return {
        "requests": requests,
        "statuses": dict(statuses),
        "emails_sent": len(mail.messages) - before,
    }


# --- 4. schemathesis ----------------------------------------------------------------------


def probe_schemathesis(base: str, world: World, examples: int) -> dict:
    binary = Path(sys.executable).parent / "st"
    if not binary.exists():
        return {"skipped": "schemathesis is not installed"}
    command = [
        str(binary),
        "run",
        f"{base}/api/schema/",
        "--header",
        f"Authorization: Bearer {world.api_key}",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        "1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    output = done.stdout + done.stderr
    (Path(tempfile.gettempdir()) / "probe-schemathesis.log").write_text(output)
    summary = output[output.rfind("SUMMARY") :]
    failures = {
        f"{code} {name.strip()}": int(count)
        for code, name, count in re.findall(r"(ST\d+) ([^:\n]+): (\d+)", summary)
    }
    cases = re.search(r"(\d+) generated[^\n]*", summary)
    return {
        "exit": done.returncode,
        "failures": failures,
        "server_errors": sum(n for name, n in failures.items() if "Server error" in name),
        "test_cases": cases.group(0) if cases else "",
        "log": str(Path(tempfile.gettempdir()) / "probe-schemathesis.log"),
    }


# --- main ---------------------------------------------------------------------------------


def section(results: dict, title: str, run: Callable[[], dict]) -> None:
    started = time.monotonic()
    print(f"== {title}", flush=True)
    result = run()
    result["seconds"] = round(time.monotonic() - started)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str), flush=True)
    results[title] = result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outage", type=int, default=10, help="seconds Redis stays stopped")
    parser.add_argument("--schemathesis-examples", type=int, default=25)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "probe-server.log"
    )
    parser.add_argument(
        "--only", choices=["outage", "exports", "logins", "schemathesis"], action="append"
    )
    args = parser.parse_args()
    only = set(args.only or ["outage", "exports", "logins", "schemathesis"])

    redis, mail = RedisServer(), MailCounter()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = probe_env(redis.url, mail.port, base)
    processes: list[subprocess.Popen] = []
    results: dict = {}
    log = args.log.open("w")
    print(f"server and worker output: {args.log}", flush=True)
    try:
        redis.start()
        recreate_database(env)
        os.environ.update(env)
        import django

        django.setup()
        world = world_prepare()
        processes.append(gunicorn(env, port, log))
        processes.append(celery_worker(env, log))
        if "outage" in only:
            section(
                results,
                f"1. Redis stopped for {args.outage} s mid-traffic",
                lambda: probe_outage(base, world, redis, args.outage),
            )
        if "exports" in only:
            section(results, "2. Formula cells in every export", lambda: probe_exports(base, world))
        if "logins" in only:
            section(
                results,
                "3a. Manager login",
                lambda: probe_login(base, "/accounts/login/", world.owner_email, world.password),
            )
            section(
                results,
                "3b. Cabinet login",
                lambda: probe_login(
                    base, f"/p/{world.slug}/login/", world.partner_email, world.password
                ),
            )
            section(
                results,
                "3c. Password reset",
                lambda: probe_password_reset(base, world.owner_email, mail),
            )
        if "schemathesis" in only:
            section(
                results,
                "4. schemathesis",
                lambda: probe_schemathesis(base, world, args.schemathesis_examples),
            )
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.close()
        mail.close()


if __name__ == "__main__":
    main()
