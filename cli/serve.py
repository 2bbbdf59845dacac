"""``vck serve``: the bot's webhooks, health and metrics."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os

from aiohttp import web

from core.aio import new_event_loop
from core.config import Settings, load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--host", default=None, help="default: VCK_HTTP_HOST")
    serve.add_argument("--port", type=int, default=None, help="default: VCK_HTTP_PORT")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT); the bot keeps no state in-process",
    )
    serve.set_defaults(handler=_serve)


def _settings(host: str | None, port: int | None) -> Settings:
    """The settings with ``--host``/``--port`` in them: the guard against development
    secrets on a public address checks the address actually bound."""
    given = {"http_host": host, "http_port": port}
    return load_settings(**{name: value for name, value in given.items() if value is not None})


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args.host, args.port)  # refuses here, before any child starts
    host, port = settings.http_host, settings.http_port
    if args.workers <= 1:
        _run(host, port, reuse_port=False)
        return 0
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_run, args=(host, port, True), daemon=True)
        for _ in range(args.workers)
    ]
    for child in children:
        child.start()
    try:
        for child in children:
            child.join()
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
    return 0


def _run(host: str, port: int, reuse_port: bool) -> None:
    from bot.app import make_app
    from bot.bootstrap import build_bot
    from core import logs

    settings = _settings(host, port)
    logs.configure(
        settings.log_level, f"%(asctime)s {os.getpid()} %(levelname)s %(name)s %(message)s"
    )
    if weak := settings.weak_secrets():  # only development, demo and test get this far
        logging.getLogger("vck.serve").warning(
            "%s: development or weak secrets in use (%s); anyone who knows them can forge"
            " every webhook",
            settings.environment,
            ", ".join(f"VCK_{name.upper()}" for name in weak),
        )
    web.run_app(
        make_app(build_bot(settings), reuse_port=reuse_port),
        loop=new_event_loop(),
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        access_log=None,
        print=lambda line: logging.getLogger("vck.serve").info(line),
    )
