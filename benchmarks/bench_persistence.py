"""Saved session state: what writing costs the producer, and how fast a session resumes.

Measures:
- streaming 100,000 chunks with a live view attached (as ``bench_state``), with the
  state saved vs not saved (target <= 1.05x): the producer's wall time, and the CPU time
  of the whole process (writer thread included), which other load on the machine
  disturbs less;
- appending 1,000 messages, saved vs not saved (reported);
- resuming a saved 1,000-message session: reading the file and restoring the records
  into a fresh state (target < 100 ms).

Runs are interleaved; figures are min / median / max of the repeats.

Run: ``python -m benchmarks persistence``
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_state import RATE, RecordingPublisher, chunks, produce
from jido_kernel.display.live import LiveDisplay, LiveView
from jido_kernel.persistence import store
from jido_kernel.persistence.restore import restore
from jido_kernel.persistence.writer import Persister
from jido_kernel.state import SessionState

REPEATS = 7
MESSAGES = 1_000
SID = "5e1f3d2a-9b8c-4d7e-a6f5-0e1d2c3b4a59"


def _persister(state: SessionState, directory: Path) -> Persister:
    path = directory / f"{SID}.sqlite3"
    store.remove(path)
    return Persister(state, path, name="bench", project_root="/bench", max_bytes=10**9)


def _stream(parts: list[str], directory: Path | None, cpu: dict[bool, list[float]]) -> float:
    state = SessionState("bench")
    view = LiveView(state, "stream", display=LiveDisplay(max_rate=RATE), publisher=RecordingPublisher(parts[0]))
    saving = _persister(state, directory) if directory else None
    gc.collect()
    started = time.process_time()
    _, elapsed = produce(state, parts)
    cpu[directory is not None].append(time.process_time() - started)
    view.close()
    if saving:
        saving.close()
    return elapsed


def _append(directory: Path | None) -> float:
    state = SessionState("bench")
    saving = _persister(state, directory) if directory else None
    gc.collect()
    started = time.perf_counter()
    for index in range(MESSAGES):
        state.append_message("user" if index % 2 else "assistant", f"message {index} " + "lorem ipsum " * 20)
    elapsed = time.perf_counter() - started
    if saving:
        saving.close()
    return elapsed


def _resume(path: Path) -> float:
    gc.collect()
    started = time.perf_counter()
    restore(SessionState("bench"), store.load(path))
    return time.perf_counter() - started


def _interleaved(measure: Callable[[Path | None], float], directory: Path) -> tuple[list[float], list[float]]:
    saved: list[float] = []
    alone: list[float] = []
    for repeat in range(REPEATS):
        for on in (True, False) if repeat % 2 else (False, True):
            (saved if on else alone).append(measure(directory if on else None))
    return saved, alone


def _spread(values: list[float], scale: float = 1.0) -> str:
    return f"{min(values) * scale:.1f} / {statistics.median(values) * scale:.1f} / {max(values) * scale:.1f}"


def main() -> None:
    parts = chunks()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        cpu: dict[bool, list[float]] = {True: [], False: []}
        stream_on, stream_off = _interleaved(lambda d: _stream(parts, d, cpu), directory)
        append_on, append_off = _interleaved(_append, directory)
        state = SessionState("bench")
        saving = _persister(state, directory)
        for index in range(MESSAGES):
            state.append_message("user" if index % 2 else "assistant", f"message {index} " + "lorem ipsum " * 20)
        saving.close()
        resumes = [_resume(saving.path) for _ in range(REPEATS)]
    rows = [
        ("stream 100k chunks, live view, saved (ms)", _spread(stream_on, 1000), _spread(stream_off, 1000),
         f"{min(stream_on) / min(stream_off):.3f}x", "<= 1.05x"),
        ("  process CPU time (ms)", _spread(cpu[True], 1000), _spread(cpu[False], 1000),
         f"{min(cpu[True]) / min(cpu[False]):.3f}x", "<= 1.05x"),
        ("append 1,000 messages, saved (ms)", _spread(append_on, 1000), _spread(append_off, 1000),
         f"{min(append_on) / min(append_off):.2f}x", ""),
        ("resume a 1,000-message session (ms)", _spread(resumes, 1000), "", "", "< 100"),
    ]  # fmt: skip
    header = ("measure (min / median / max)", "value", "not saved", "ratio", "target")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
