"""The worker's futures and thread pool behave as the ``concurrent.futures`` calls they replace."""

from __future__ import annotations

import threading
import time

import pytest

from jido_kernel.lua.worker.jobs import Future, ThreadPoolExecutor


def test_a_future_waits_for_its_result() -> None:
    future = Future()
    assert not future.done()
    with pytest.raises(TimeoutError):
        future.result(timeout=0.01)
    threading.Timer(0.05, future.set_result, (7,)).start()
    assert future.result(timeout=5) == 7
    assert future.done()


def test_a_future_raises_the_calls_exception() -> None:
    future = Future()
    future.set_exception(ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        future.result(timeout=0)


def test_a_future_takes_one_outcome() -> None:
    future = Future()
    future.set_result(1)
    with pytest.raises(RuntimeError):
        future.set_result(2)
    with pytest.raises(RuntimeError):
        future.set_exception(ValueError())
    assert future.result() == 1


def test_the_pool_runs_calls_and_passes_their_outcome() -> None:
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-pool")
    assert pool.submit(lambda a, b=0: a + b, 1, b=2).result(timeout=5) == 3
    failing = pool.submit(int, "not a number")
    with pytest.raises(ValueError):
        failing.result(timeout=5)


def test_the_pool_starts_threads_on_demand_up_to_its_maximum_and_reuses_them() -> None:
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-cap")
    names: set[str] = set()
    gate = threading.Event()

    def job() -> None:
        names.add(threading.current_thread().name)
        gate.wait(5)

    jobs = [pool.submit(job) for _ in range(4)]
    time.sleep(0.1)
    assert sum(thread.name.startswith("test-cap") for thread in threading.enumerate()) == 2
    gate.set()
    for running in jobs:
        running.result(timeout=5)
    assert names == {"test-cap_0", "test-cap_1"}
    for _ in range(5):  # idle threads take the next calls: no new thread
        pool.submit(job).result(timeout=5)
    assert sum(thread.name.startswith("test-cap") for thread in threading.enumerate()) == 2


def test_the_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        ThreadPoolExecutor(max_workers=0)
