"""Structure of the deployment files: Dockerfile, docker-compose.yml, .env.example, .dockerignore.

Everything here is parsing only, nothing is built or started, so no database or Django
settings are needed. `docker compose config` runs only where the Compose plugin exists.
"""

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("web", "worker", "beat")
BACKING_SERVICES = ("postgres", "redis")
# Every variable config/settings.py and the containers read, plus the Compose-only ones.
DOCUMENTED_VARS = (
    "DJANGO_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "CSRF_TRUSTED_ORIGINS",
    "WEB_CONCURRENCY",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "PAYOUT_DETAILS_KEYS",
)
BUILD_ONLY_VARS = ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PAYOUT_DETAILS_KEYS")

# Compose interpolation: `$$` is an escaped dollar, `${NAME...}` and `$NAME` are variables.
INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)[^}]*\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
ENV_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


# --- helpers -------------------------------------------------------------------------------


def _strings(node):
    """Every string scalar of a loaded YAML document (Compose interpolates values only)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _interpolated_names(text: str) -> set[str]:
    return {
        match["braced"] or match["bare"]
        for match in INTERPOLATION.finditer(text)
        if match.group(0) != "$$"
    }


def _interpolate(text: str) -> str:
    """Resolve interpolations to a placeholder, as Compose would with the variables set."""
    return INTERPOLATION.sub(lambda m: "$" if m.group(0) == "$$" else "placeholder", text)


def _as_text(value) -> str:
    """A command or healthcheck test, list or string form, as one string."""
    return " ".join(value) if isinstance(value, list) else value


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _interpolate(str(value)) for key, value in env.items()}


def _build(service: dict) -> tuple[str, str]:
    build = service["build"]
    if isinstance(build, str):
        return build, "Dockerfile"
    return build["context"], build.get("dockerfile", "Dockerfile")


def _env_example() -> list[tuple[int, str, str]]:
    """(line index, key, value) of every assignment in .env.example."""
    entries = []
    for index, line in enumerate(ENV_EXAMPLE.read_text().splitlines()):
        match = ENV_LINE.match(line.strip())
        if match:
            entries.append((index, match["key"], match["value"]))
    return entries


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert pending == "", "Dockerfile ends inside a line continuation"
    return instructions


def _instruction_args(name: str) -> list[str]:
    return [args for keyword, args in _dockerfile_instructions() if keyword == name]


def _exec_or_shell(arguments: str) -> str:
    """CMD/ENTRYPOINT arguments in exec (JSON) or shell form, as one string."""
    if arguments.startswith("["):
        return " ".join(json.loads(arguments))
    return arguments


def _env_instruction_keys(arguments: str) -> set[str]:
    tokens = shlex.split(arguments)
    if "=" not in tokens[0]:  # legacy `ENV KEY value` form
        return {tokens[0]}
    return {token.split("=", 1)[0] for token in tokens}


# --- docker-compose.yml --------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_compose_has_no_version_key(compose):
    assert "version" not in compose


def test_compose_defines_exactly_the_stack(services):
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}


def test_app_services_share_one_build(services):
    names = (*APP_SERVICES, "migrate")
    builds = {name: _build(services[name]) for name in names}
    assert builds == dict.fromkeys(names, (".", "Dockerfile"))
    images = {services[name].get("image") for name in names}
    assert len(images) == 1


def test_migrate_runs_once_as_the_owner_before_the_app_services(services):
    migrate = services["migrate"]
    assert _as_text(migrate["command"]) == "python manage.py migrate --noinput"
    assert migrate["restart"] == "no"
    env = _environment(migrate)
    owner, app = urlsplit(env["DATABASE_OWNER_URL"]), urlsplit(env["DATABASE_URL"])
    assert (owner.username, app.username) == ("partnerflow", "partnerflow_app")
    assert owner.path == app.path == "/partnerflow"
    assert "migrate" not in migrate["depends_on"]


def test_web_runs_gunicorn(services):
    command = _as_text(services["web"]["command"])
    assert "migrate" not in command
    assert "gunicorn config.wsgi:application" in command
    assert "--bind 0.0.0.0:8000" in command
    assert services["web"]["ports"] == ["8000:8000"]


def test_the_app_role_is_created_with_the_database(services):
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_USER"] == "partnerflow"
    init = "./deploy/postgres/app-role.sh:/docker-entrypoint-initdb.d/app-role.sh:ro"
    assert init in postgres["volumes"]
    script = (ROOT / "deploy" / "postgres" / "app-role.sh").read_text()
    assert "CREATE ROLE partnerflow_app LOGIN PASSWORD :'app_password'" in script


@pytest.mark.parametrize(
    ("service", "expected"),
    [("worker", "celery -A config worker"), ("beat", "celery -A config beat")],
)
def test_celery_commands(services, service, expected):
    assert _as_text(services[service]["command"]).startswith(expected)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_wait_for_healthy_backing_services(services, service):
    assert services[service]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


@pytest.mark.parametrize(("service", "probe"), [("postgres", "pg_isready"), ("redis", "ping")])
def test_backing_services_have_healthchecks(services, service, probe):
    assert probe in _as_text(services[service]["healthcheck"]["test"])


def test_web_healthcheck_requests_healthz(services):
    probe = _as_text(services["web"]["healthcheck"]["test"])
    assert "urllib.request" in probe
    assert "http://localhost:8000/healthz" in probe


def test_postgres_data_lives_in_the_declared_volume(compose, services):
    assert "pgdata" in compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_redis_keeps_the_click_buffer_across_restarts(compose, services):
    """The click buffer waits in Redis for the flush: an append-only file fsynced every second,
    on a volume that outlives the container (docs/architecture.md, 'When Redis is down')."""
    command = shlex.split(_as_text(services["redis"]["command"]))
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    assert "redisdata" in compose["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_use_compose_hostnames(services, service):
    env = _environment(services[service])
    assert env["DJANGO_ENV"] == "production"
    database = urlsplit(env["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    # The role that owns nothing; the owner's URL is the migrate service's alone.
    assert database.username == "partnerflow_app"
    assert "DATABASE_OWNER_URL" not in env
    redis = urlsplit(env["REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    env_file = services[service]["env_file"]
    assert (env_file if isinstance(env_file, list) else [env_file]) == [".env"]


def test_env_example_defines_every_interpolated_variable(compose):
    used = set().union(*(_interpolated_names(text) for text in _strings(compose)))
    assert "POSTGRES_PASSWORD" in used
    defined = {key for _, key, _ in _env_example()}
    assert used - defined == set()


# --- .env.example --------------------------------------------------------------------------


def test_env_example_documents_every_variable():
    lines = ENV_EXAMPLE.read_text().splitlines()
    entries = _env_example()
    keys = [key for _, key, _ in entries]
    assert len(keys) == len(set(keys)), "duplicate keys in .env.example"
    assert set(DOCUMENTED_VARS) - set(keys) == set()
    undocumented = [key for index, key, _ in entries if not lines[index - 1].startswith("#")]
    assert undocumented == []


# --- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_base_image():
    assert _instruction_args("FROM")[0].split()[0] == "python:3.11-slim"


def test_dockerfile_python_environment():
    keys = set().union(*(_env_instruction_keys(args) for args in _instruction_args("ENV")))
    assert {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"} <= keys


def test_dockerfile_runs_as_non_root_user():
    users = _instruction_args("USER")
    assert users != []
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_installs_dependencies_before_copying_code():
    instructions = _dockerfile_instructions()
    copy_pyproject = instructions.index(("COPY", "pyproject.toml ./"))
    copy_code = instructions.index(("COPY", ". ."))
    pip_install = next(
        index
        for index, (keyword, args) in enumerate(instructions)
        if keyword == "RUN" and "pip install --no-cache-dir ." in args
    )
    assert copy_pyproject < pip_install < copy_code


def test_dockerfile_collects_static_files_with_inline_build_settings():
    (collectstatic,) = [args for args in _instruction_args("RUN") if "collectstatic" in args]
    assert "python manage.py collectstatic --noinput" in collectstatic
    assert "DJANGO_ENV=production" in collectstatic
    for name in BUILD_ONLY_VARS:
        assert f"{name}=" in collectstatic


def test_dockerfile_does_not_bake_build_only_settings_into_the_image():
    declared = set()
    for keyword, args in _dockerfile_instructions():
        if keyword == "ENV":
            declared |= _env_instruction_keys(args)
        elif keyword == "ARG":
            declared.add(args.split("=", 1)[0])
    assert declared & set(BUILD_ONLY_VARS) == set()


def test_dockerfile_exposes_8000():
    ports = {port.split("/")[0] for args in _instruction_args("EXPOSE") for port in args.split()}
    assert "8000" in ports


def test_dockerfile_default_command_runs_gunicorn():
    commands = _instruction_args("ENTRYPOINT") + _instruction_args("CMD")
    command = " ".join(_exec_or_shell(args) for args in commands)
    assert "gunicorn config.wsgi:application" in command
    assert "--bind 0.0.0.0:8000" in command


# --- .dockerignore -------------------------------------------------------------------------


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    entries = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".data", ".git", ".env", "staticfiles"} <= entries


# --- docker compose config -----------------------------------------------------------------


def _compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
    )
    return result.returncode == 0


def test_docker_compose_config_is_valid(tmp_path):
    if not _compose_plugin_available():
        pytest.skip("the docker CLI has no compose plugin")
    # A copy with .env made from .env.example: validates the file and proves the example
    # supplies every variable the compose file requires.
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(tmp_path), "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
