"""``vck serve`` started as docker compose starts it: refused with the development
secrets, serving with real ones (health on the internal listener, webhooks only on the
public port)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from core.config import SECRETS, Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
VCK = str(Path(sys.executable).with_name("vck"))


def compose_bot_command() -> list[str]:
    """The bot service's command in docker-compose.yml (a JSON-style flow list)."""
    bot = COMPOSE.read_text().split("\n  bot:\n", 1)[1]
    return json.loads(re.search(r"command: (\[.*\])", bot).group(1))


def compose_environment() -> dict[str, str]:
    """What compose puts in the bot's environment when the shell sets nothing: the
    ``${VAR:-default}`` defaults; entries without a value stay unset."""
    block = COMPOSE.read_text().split("environment: &app-env\n", 1)[1].split("\n  depends_on:")[0]
    env = {}
    for name, value in re.findall(r"^ {4}(VCK_\w+):(.*)$", block, re.MULTILINE):
        value = value.strip().strip('"')
        if value:
            env[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any VCK_ setting (the suite's
    VCK_ENVIRONMENT=test included), plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VCK_")}
    return base | extra


def with_port(command: list[str], port: int) -> list[str]:
    """The compose command on a free port (8080 may be taken on a shared machine)."""
    args = list(command)
    args[args.index("--port") + 1] = str(port)
    return args


def test_compose_runs_production_on_loopback_without_demo_data() -> None:
    text = COMPOSE.read_text()
    assert compose_environment()["VCK_ENVIRONMENT"] == "production"
    assert re.search(r'ports: \["\$\{VCK_PUBLISH:-127\.0\.0\.1:8080\}:8080"\]', text)
    migrate = text.split("\n  migrate:\n", 1)[1].split("\n\n", 1)[0]
    assert "seed" not in migrate
    demo = text.split("\n  demo-seed:\n", 1)[1].split("\n\n", 1)[0]
    assert "profiles: [demo]" in demo and '"seed", "demo"' in demo


def test_serve_started_as_compose_starts_it_refuses_the_development_secrets(tmp_path) -> None:
    env = clean_environment(**compose_environment())
    assert "VCK_ENVIRONMENT" in env and not any(f"VCK_{n.upper()}" in env for n in SECRETS)
    command = with_port(compose_bot_command(), free_port())
    assert command[:2] == ["vck", "serve"] and "0.0.0.0" in command
    done = subprocess.run(
        [VCK, *command[1:]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "Traceback" not in done.stderr
    for name in SECRETS:
        assert f"VCK_{name.upper()}" in done.stderr
        assert Settings.model_fields[name].default.get_secret_value() not in done.stderr


@pytest.fixture
def serve_with_real_secrets(tmp_path, db_url: str, redis_url: str) -> Iterator[tuple[int, int]]:
    """``vck serve`` as compose runs it (production, health on the ops listener), with
    random secrets and this test's database and Redis; yields (public, ops) ports."""
    public, ops = free_port(), free_port()
    env = clean_environment(
        **compose_environment()
        | {f"VCK_{name.upper()}": secrets.token_urlsafe(32) for name in SECRETS}
        | {
            "VCK_DATABASE_URL": db_url,
            "VCK_REDIS_URL": redis_url,
            "VCK_OPS_HOST": "127.0.0.1",
            "VCK_OPS_PORT": str(ops),
        }
    )
    assert env["VCK_ENVIRONMENT"] == "production"
    command = [VCK, "serve", "--host", "127.0.0.1", "--port", str(public)]
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        yield public, ops
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.timeout(240)
async def test_serve_with_real_secrets_answers_health_on_the_internal_listener_only(
    serve_with_real_secrets: tuple[int, int],
) -> None:
    public, ops = serve_with_real_secrets
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        # The public port opens once start-up has loaded the PIN-code directory (2 s on
        # an idle machine, 30 s on a busy one).
        deadline = time.monotonic() + 180
        while True:
            try:
                async with client.post(f"http://127.0.0.1:{public}/webhooks/telegram") as response:
                    # The webhooks are there, and check the (real) secret first.
                    assert response.status == 403
                    break
            except aiohttp.ClientConnectionError:
                assert time.monotonic() < deadline, "vck serve did not come up"
                await asyncio.sleep(0.2)
        async with client.get(f"http://127.0.0.1:{ops}/healthz") as response:
            assert (response.status, await response.json()) == (
                200,
                {"database": "ok", "redis": "ok"},
            )
        async with client.get(f"http://127.0.0.1:{ops}/metrics") as response:
            assert 'vck_errors_total{kind="telegram_secret"} 1.0' in await response.text()
        async with client.get(f"http://127.0.0.1:{public}/healthz") as response:
            assert response.status == 404
        async with client.get(f"http://127.0.0.1:{public}/metrics") as response:
            assert response.status == 404
