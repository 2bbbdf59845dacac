"""What benchmarks share: throwaway databases on the configured server, free loopback
ports, child processes that are always stopped, waiting for a server to come up, and
cleaning up after a run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
import asyncpg
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from core.config import load_settings
from core.db import sync_url

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def database_url(name: str) -> str:
    """The URL of database ``name`` on the configured PostgreSQL server."""
    base = make_url(load_settings().database_url)
    return base.set(database=name).render_as_string(hide_password=False)


def redis_url(db: int) -> str:
    """The configured Redis server, database number ``db``."""
    base = load_settings().redis_url.split("?", 1)[0]
    scheme, rest = base.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/{db}"


async def flush_redis(url: str) -> None:
    """Empty the Redis database of ``url``."""
    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def _admin(url: str) -> asyncpg.Connection:
    admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    return await asyncpg.connect(sync_url(admin_url))


async def recreate_database(url: str) -> None:
    """Drop (with any open connections) and create the database of ``url``."""
    name = make_url(url).database
    admin = await _admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def migrated_database(url: str) -> None:
    """The database of ``url`` dropped, created again and migrated to the newest schema."""
    from core.migrate import upgrade

    await recreate_database(url)
    await asyncio.to_thread(upgrade, url)


async def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = await _admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def loopback_urls(count: int) -> list[str]:
    """``count`` base URLs (``http://127.0.0.1:PORT``) on ports nobody listens on yet."""
    return [f"http://{LOOPBACK}:{free_port()}" for _ in range(count)]


def port_of(url: str) -> int:
    """The port of a base URL made by :func:`loopback_urls`."""
    return int(url.rsplit(":", 1)[1])


def venv_script(name: str) -> str:
    """A console script of this virtualenv (``vck``), found beside the running Python."""
    import sys

    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class Child:
    """A child process in its own process group, stopped (TERM, then KILL) on ``stop``."""

    def __init__(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.argv = list(argv)
        self.log_path = log
        self._log = open(log, "wb") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        return process_cpu_seconds(self.pid)

    def tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def terminate(self) -> None:
        """Ask the process group to stop (TERM), without waiting."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        self.terminate()  # again, if it was already told: harmless
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        if self._log is not subprocess.DEVNULL:
            self._log.close()  # type: ignore[union-attr]


def start_bot(port: int, env: dict[str, str], logs: Path) -> Child:
    """``vck serve`` as providers reach it: its public URL is its own loopback address."""
    env = {**env, "VCK_PUBLIC_BASE_URL": f"http://{LOOPBACK}:{port}"}
    argv = [venv_script("vck"), "serve", "--host", LOOPBACK, "--port", str(port)]
    return Child(argv, env=env, log=logs / f"bot-{port}.log")


def stop_all(children: Sequence[Child]) -> None:
    """Stop every child, all told at once: their shutdowns overlap instead of adding up."""
    for child in children:
        child.terminate()
    for child in children:
        child.stop()


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used so far (Linux /proc); 0 when
    it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_matching(*needles: str) -> list[int]:
    """Processes whose command line contains every one of ``needles`` (e.g. the
    PostgreSQL backends serving one database: ``postgres:`` and its name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(n in cmdline for n in needles):
            found.append(int(entry.name))
    return found


async def wait_http_ok(url: str, child: Child, *, within: float = 30.0) -> None:
    """Poll ``url`` until it answers 200; fail early when ``child`` died."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
        while True:
            if not child.alive():
                raise RuntimeError(f"{child.argv[0]} exited early:\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with client.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not up after {within:.0f} s:\n{child.tail()}")
            await asyncio.sleep(0.1)


async def finish(
    children: Sequence[Child], db_url: str, redis: str, logs: Path, *, succeeded: bool,
    whose: str, name: str,
) -> None:  # fmt: skip
    """After a run: stop its processes, drop its database and empty its Redis database;
    the processes' logs are removed after a success, kept (and where they are said) after
    a failure."""
    stop_all(children)
    await drop_database(db_url)
    await flush_redis(redis)
    if succeeded:
        shutil.rmtree(logs, ignore_errors=True)
    else:
        print(f"{name}: {whose} logs are in {logs}", flush=True)
