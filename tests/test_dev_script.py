"""scripts/dev.py finds Chromium for the browser tests, or installs Debian's where it may (root
with apt-get), or stops with the one command to run. Nothing is installed here: the command
runner is injected."""

import importlib.util
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture
def dev(monkeypatch):
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    spec = importlib.util.spec_from_file_location("partnerflow_dev", REPO / "scripts" / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Runner:
    """Records the commands instead of running them; each exits with ``code``."""

    def __init__(self, code: int = 0, on_run=None) -> None:
        self.code = code
        self.on_run = on_run
        self.commands: list[tuple[list[str], dict | None]] = []

    def __call__(self, cmd: list[str], env: dict | None = None) -> int:
        self.commands.append((cmd, env))
        if self.on_run:
            self.on_run(cmd)
        return self.code


def test_root_with_apt_installs_debians_chromium_and_says_so(dev, capsys):
    installed: list[str] = []

    def on_run(cmd: list[str]) -> None:
        if cmd[:2] == ["apt-get", "install"]:
            installed.append("x")

    run = Runner(on_run=on_run)

    path = dev.find_chromium(
        can_install=lambda: True,
        run=run,
        system_chromium=lambda: "/usr/bin/chromium" if installed else None,
        playwright_chromium=lambda: None,
    )

    assert path == "/usr/bin/chromium"
    assert [cmd for cmd, _ in run.commands] == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium"],
    ]
    assert all(env and env["DEBIAN_FRONTEND"] == "noninteractive" for _, env in run.commands)
    assert (
        "running as root on Debian/Ubuntu: installing chromium with apt-get"
        in capsys.readouterr().out
    )


def test_a_failed_apt_install_stops_with_its_reason(dev):
    with pytest.raises(dev.DevError, match="apt-get could not install chromium"):
        dev.find_chromium(
            can_install=lambda: True,
            run=Runner(code=100),
            system_chromium=lambda: None,
            playwright_chromium=lambda: None,
        )


def test_not_root_tries_playwrights_download_then_prints_the_one_command(dev, monkeypatch):
    monkeypatch.setattr(dev.shutil, "which", lambda name: "/usr/bin/apt-get")
    run = Runner(code=1)  # offline: the download fails
    with pytest.raises(dev.DevError) as caught:
        dev.find_chromium(
            can_install=lambda: False,
            run=run,
            system_chromium=lambda: None,
            playwright_chromium=lambda: None,
        )
    assert [cmd for cmd, _ in run.commands] == [
        [sys.executable, "-m", "playwright", "install", "chromium"]
    ]
    assert "sudo apt-get install chromium" in str(caught.value)
    assert not any(cmd[0] == "apt-get" for cmd, _ in run.commands)


def test_without_apt_the_message_names_playwrights_download(dev, monkeypatch):
    monkeypatch.setattr(dev.shutil, "which", lambda name: None)
    with pytest.raises(dev.DevError) as caught:
        dev.find_chromium(
            can_install=lambda: False,
            run=Runner(code=1),
            system_chromium=lambda: None,
            playwright_chromium=lambda: None,
        )
    assert ".venv/bin/python -m playwright install chromium" in str(caught.value)


def test_a_chromium_already_there_installs_nothing(dev):
    run = Runner()
    path = dev.find_chromium(
        can_install=lambda: True,
        run=run,
        system_chromium=lambda: "/usr/bin/chromium",
        playwright_chromium=lambda: None,
    )
    assert (path, run.commands) == ("/usr/bin/chromium", [])


def test_apt_is_used_only_by_root(dev, monkeypatch):
    monkeypatch.setattr(dev.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(dev.os, "geteuid", lambda: 1000)
    assert dev.apt_can_install() is False
    monkeypatch.setattr(dev.os, "geteuid", lambda: 0)
    assert dev.apt_can_install() is True
    monkeypatch.setattr(dev.shutil, "which", lambda name: None)
    assert dev.apt_can_install() is False
