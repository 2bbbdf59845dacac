"""Where a server's CPU goes during one benchmark phase: py-spy samples the running
processes (no change to them, no restart), and each frame's share of the samples becomes
milliseconds of CPU per message (its share of the CPU the processes were measured to use).

py-spy is not a dependency of the project: put it beside the Python that runs the
benchmark, e.g. ``uv run --with py-spy python -m benchmarks inbound``. Only samples that
hold the GIL count (``--gil``): an event loop waiting for the network has released it,
and py-spy's own idle detection counts a process waiting for a busy machine's CPU as
working. Sampling pauses the process for a few microseconds each time (without pausing,
py-spy reads half-changed stacks), so a profiled run's figures are a little lower.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import venv_script

RATE = 200
"""Samples per second and process."""


def py_spy() -> str:
    found = venv_script("py-spy")
    if shutil.which(found) is None:
        raise SystemExit("profiling needs py-spy: uv run --with py-spy python -m benchmarks …")
    return found


class Recorder:
    """py-spy recording each of ``pids`` into ``directory`` until :meth:`stop`."""

    def __init__(self, pids: list[int], directory: Path, label: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.outputs = [directory / f"{label}-{pid}.txt" for pid in pids]
        command = [py_spy(), "record", "--format", "raw", "--nolineno", "--gil"]
        self.spies = [
            subprocess.Popen(
                [*command, "--rate", str(RATE), "--pid", str(pid), "--output", str(output)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, output in zip(pids, self.outputs, strict=True)
        ]
        time.sleep(0.5)  # attached before the phase starts

    def stop(self) -> list[Path]:
        """Stop sampling; py-spy writes what it has on SIGINT."""
        for spy in self.spies:
            with contextlib.suppress(ProcessLookupError):
                os.kill(spy.pid, signal.SIGINT)
        for spy in self.spies:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
        return [output for output in self.outputs if output.exists()]


@dataclass
class Samples:
    total: int
    own: Counter[str]
    """Samples whose innermost frame is the function (its self time)."""
    within: Counter[str]
    """Samples with the function anywhere on the stack (its inclusive time)."""
    packages: Counter[str]
    """Self time by package (``asyncpg``, ``aiohttp``, ``bot``…): a frame's self time
    includes the C code and system calls it made (uvloop's under ``aiohttp/web.py``)."""


def read_samples(paths: list[Path]) -> Samples:
    """Collapsed stacks (``frame;frame;… count`` per line, outermost first)."""
    total, own, within, packages = 0, Counter[str](), Counter[str](), Counter[str]()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = stack.split(";")
            total += int(count)
            own[frames[-1]] += int(count)
            packages[frames[-1].partition(" (")[2].split("/", 1)[0].rstrip(")")] += int(count)
            for frame in set(frames):
                within[frame] += int(count)
    return Samples(total, own, within, packages)


PROJECT = ("(bot/", "(core/")
"""Frames of our own code: their inclusive time is what a change there could save."""


def report(label: str, samples: Samples, cpu_ms_per_msg: float, top: int = 10) -> None:
    """Self time by package, the ``top`` frames by self time, and our own code's frames
    by inclusive time, in CPU milliseconds per message of the profiled processes."""
    if not samples.total:
        print(f"{label} profile: no samples (is py-spy allowed to attach?)")
        return
    scale = cpu_ms_per_msg / samples.total
    print(f"{label} profile: {samples.total} samples of {cpu_ms_per_msg:.2f} ms/msg CPU")
    ours = Counter({f: n for f, n in samples.within.items() if any(p in f for p in PROJECT)})
    for kind, counter in (
        ("package", samples.packages),
        ("self", samples.own),
        ("inclusive", ours),
    ):
        for frame, count in counter.most_common(top + 6 if kind == "inclusive" else top):
            share = 100 * count / samples.total
            print(f"{label} profile {kind}: {count * scale:.3f} ms/msg ({share:.1f} %) {frame}")
