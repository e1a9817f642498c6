"""Streaming into a session's state with a live view attached.

Measures, for 100,000 small chunks:
- producer time with a live ``stream`` view attached vs the producer alone (target <= 1.2x);
- display messages and bytes sent, against the chunk count and the rate bound;
- latency from the first chunk to the first display message that shows it (target <= 150 ms).

Display messages are counted by a recording publisher with the interface of IPython's
``display_pub``; bytes are the JSON size of each message's data.

Run: ``python benchmarks/bench_state.py``
"""

from __future__ import annotations

import gc
import json
import threading
import time
from typing import Any

from jido_kernel.display.live import LiveDisplay, LiveView
from jido_kernel.state import SessionState

CHUNKS = 100_000
LONG = 3
"""The long stream: LONG times the chunks (about 3.3 MB of text, under the 4 MB stream bound)."""
REPEATS = 5
RATE = 10.0


class RecordingPublisher:
    """Counts display messages and their bytes, and when the first chunk appeared."""

    def __init__(self, first_chunk: str) -> None:
        self.first_chunk = first_chunk
        self.messages = 0
        self.updates = 0
        self.bytes = 0
        self.first_shown: float | None = None
        self._lock = threading.Lock()

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
    ) -> None:
        size = len(json.dumps(data).encode())
        with self._lock:
            self.messages += 1
            self.updates += update
            self.bytes += size
            if self.first_shown is None and self.first_chunk in data["text/plain"]:
                self.first_shown = time.perf_counter()


def chunks() -> list[str]:
    return [f"tok{index} " for index in range(CHUNKS)]


def produce(state: SessionState, parts: list[str], pace_every: int = 0) -> tuple[float, float]:
    """Stream ``parts``; returns (time of the first write, seconds for all writes)."""
    with state.stream() as writer:
        write = writer.write
        started = time.perf_counter()
        for index, part in enumerate(parts):
            write(part)
            if pace_every and index % pace_every == 0:
                time.sleep(0.001)
        elapsed = time.perf_counter() - started
    return started, elapsed


def run(parts: list[str], *, live: bool, pace_every: int = 0, idle_before: float = 0.0) -> dict[str, Any]:
    state = SessionState("bench")
    publisher = RecordingPublisher(parts[0])
    display = LiveDisplay(max_rate=RATE)
    view = LiveView(state, "stream", display=display, publisher=publisher) if live else None
    time.sleep(idle_before)
    gc.collect()
    first_write, elapsed = produce(state, parts, pace_every)
    if view is not None:
        view.close()
    latency = None if publisher.first_shown is None else publisher.first_shown - first_write
    return {
        "elapsed": elapsed,
        "messages": publisher.messages,
        "updates": publisher.updates,
        "bytes": publisher.bytes,
        "latency": latency,
        "final_bytes": len(json.dumps(view.bundle()).encode()) if view else 0,
    }


def ratio(parts: list[str], repeats: int) -> tuple[float, float]:
    """Best producer time with a live view attached, and alone (interleaved runs)."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(repeats):
        for live in (False, True) if repeat % 2 else (True, False):
            times[live].append(run(parts, live=live)["elapsed"])
    return min(times[True]), min(times[False])


def main() -> None:
    parts = chunks()
    with_view, base = ratio(parts, REPEATS)
    long_view, long_base = ratio(parts * LONG, 2)  # within StateLimits.max_stream_chars
    paced = run(parts, live=True, pace_every=100)
    chat = run(parts[:2000], live=True, pace_every=1)
    fresh = run(parts[:2000], live=True, pace_every=10)
    idle = run(parts[:2000], live=True, pace_every=10, idle_before=0.5)

    def bound(result: dict[str, Any]) -> str:
        return f"<= {result['elapsed'] * RATE + 2:.0f} (rate)"

    rows = [
        ("stream 100k chunks, live view (s)", f"{with_view:.4f}", f"{base:.4f} alone",
         f"{with_view / base:.2f}x", "<= 1.2x"),
        (f"stream {LONG * CHUNKS // 1000}k chunks, live view (s)", f"{long_view:.3f}", f"{long_base:.3f} alone",
         f"{long_view / long_base:.2f}x", "<= 1.2x"),
        (f"100k chunks paced over {paced['elapsed']:.1f} s: messages", str(paced["messages"]),
         f"{CHUNKS} chunks", f"{paced['messages'] / CHUNKS:.5f}", bound(paced)),
        ("  bytes sent", f"{paced['bytes']:,}", f"{paced['final_bytes']:,} final",
         f"{paced['bytes'] / paced['final_bytes']:.1f}x final",
         f"<= {LiveDisplay().max_bytes_rate * paced['elapsed'] + paced['final_bytes']:,.0f}"),
        (f"2k chunks over {chat['elapsed']:.1f} s: messages", str(chat["messages"]),
         "2000 chunks", f"{chat['messages'] / 2000:.3f}", bound(chat)),
        ("  bytes sent", f"{chat['bytes']:,}", f"{chat['final_bytes']:,} final",
         f"{chat['bytes'] / chat['final_bytes']:.1f}x final", ""),
        ("latency, view shown just before (ms)", f"{fresh['latency'] * 1000:.0f}", "", "",
         "<= 150"),
        ("latency, view shown 0.5 s before (ms)", f"{idle['latency'] * 1000:.0f}", "", "",
         "<= 150"),
    ]  # fmt: skip
    header = ("measure", "value", "baseline", "ratio", "target")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
