"""The floor the inbound benchmark measures the bot against: a webhook that does nothing
but what no Twilio webhook can skip — read the form, check ``X-Twilio-Signature`` with
twilio's own ``RequestValidator``, answer an empty ``<Response/>``.

It runs as its own process on the same event loop and the same aiohttp settings as
``vck serve`` (no access log), so that ``bot msgs/s ÷ trivial msgs/s`` is what the bot's
own work costs on this machine, whatever else the machine is doing that day.

Run: ``python -m benchmarks.trivial --port 8099`` (the inbound benchmark starts it
itself); the auth token is the bot's, ``VCK_TWILIO_AUTH_TOKEN``.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from core.aio import new_event_loop
from core.config import load_settings

PATH = "/webhooks/twilio"
EMPTY_TWIML = str(MessagingResponse())
VALIDATOR_KEY = web.AppKey("validator", RequestValidator)
BASE_URL_KEY = web.AppKey("base_url", str)


async def inbound(request: web.Request) -> web.Response:
    form = await request.post()
    # A MultiDict, as the bot passes it: the validator reads repeated fields with getall.
    params = MultiDict((k, v) for k, v in form.items() if isinstance(v, str))
    url = request.app[BASE_URL_KEY] + request.path_qs
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not request.app[VALIDATOR_KEY].validate(url, params, signature):
        return web.Response(status=403, text="signature check failed")
    return web.Response(text=EMPTY_TWIML, content_type="application/xml")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app(auth_token: str, public_base_url: str) -> web.Application:
    app = web.Application()
    app[VALIDATOR_KEY] = RequestValidator(auth_token)
    app[BASE_URL_KEY] = public_base_url.rstrip("/")
    app.router.add_post(PATH, inbound)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trivial", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--public-base-url", help="the URL the signatures cover; default: http://host:port"
    )
    args = parser.parse_args(argv)
    base_url = args.public_base_url or f"http://{args.host}:{args.port}"
    token = load_settings().twilio_auth_token.get_secret_value()
    web.run_app(
        make_app(token, base_url),
        loop=new_event_loop(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
