"""``python -m benchmarks [part …]``: run the benchmark parts, in order (default: all).

Parts: ``inbound`` (webhook throughput and latency), ``synthetic`` (loading a million
members), ``fanout`` (announcement fan-out; needs ``synthetic``'s database),
``elections`` (ballots through the webhook, and verifying a board). A part
whose module is not there yet is reported as not available and skipped.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

PARTS = ("inbound", "synthetic", "fanout", "elections")


def run_part(name: str) -> bool:
    """Run one part; False when it failed (the other parts still run)."""
    print(f"== {name} ==", flush=True)
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.{name}":
            print(f"{name}: not available", flush=True)
            return True
        raise
    started = time.perf_counter()
    try:
        module.main()
    except Exception as exc:  # one broken part must not hide the others' figures
        traceback.print_exc()
        print(f"{name}: failed: {type(exc).__name__}: {exc}", flush=True)
        return False
    print(f"{name}: done in {time.perf_counter() - started:.1f} s", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "parts", nargs="*", metavar="part", help=f"{', '.join(PARTS)}; default: all"
    )
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    wanted = set(args.parts or PARTS)
    # Benchmarks run the system on loopback against fakes, with the development secrets;
    # without this every process would start as `production` and refuse them.
    os.environ.setdefault("VCK_ENVIRONMENT", "development")
    results = [run_part(name) for name in PARTS if name in wanted]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
