"""The floor of the fan-out's sending speed: a bare aiohttp client posting Twilio-shaped
messages to the benchmark's fake with the worker's concurrency, in its own process (as
the worker is), for a fixed time. Prints ``sent <n> in <seconds>``.

Run by :mod:`benchmarks.fanout`: ``python -m benchmarks.bare_client URL SID TOKEN
CONCURRENCY SECONDS``.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp

from core.aio import run


async def _post_for(url: str, auth: aiohttp.BasicAuth, concurrency: int, seconds: float) -> None:
    sent = 0
    ends = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auth=auth) as http:

        async def one_lane(lane: int) -> None:
            nonlocal sent
            n = 0
            while time.perf_counter() < ends:
                form = {"To": f"whatsapp:+9198{lane:04d}{n:04d}", "From": "whatsapp:+14155550100",
                        "Body": "The district meeting is on Sunday at 10 am."}  # fmt: skip
                async with http.post(url, data=form) as response:
                    await response.read()
                    if response.status < 300:
                        sent += 1
                n = (n + 1) % 10_000

        started = time.perf_counter()
        await asyncio.gather(*(one_lane(i) for i in range(concurrency)))
        print(f"sent {sent} in {time.perf_counter() - started:.3f}", flush=True)


def main() -> None:
    base, sid, token, concurrency, seconds = sys.argv[1:6]
    url = f"{base}/2010-04-01/Accounts/{sid}/Messages.json"
    run(_post_for(url, aiohttp.BasicAuth(sid, token), int(concurrency), float(seconds)))


if __name__ == "__main__":
    main()
