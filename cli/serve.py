"""``vck serve``: the bot's webhooks, health and metrics."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from core.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the webhook server")
    serve.add_argument("--host", default=None, help="default: VCK_HTTP_HOST")
    serve.add_argument("--port", type=int, default=None, help="default: VCK_HTTP_PORT")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from bot.app import make_app
    from bot.bootstrap import build_bot

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = make_app(build_bot(settings))
    web.run_app(
        app,
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        access_log=None,
        print=lambda line: logging.getLogger("vck.serve").info(line),
    )
    return 0
