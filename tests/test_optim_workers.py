"""The optimizer's helper threads: results in order, errors raised after every helper is done."""

from __future__ import annotations

import threading
import time

import pytest

from descentlab.optim._workers import Workers


def test_run_returns_the_callers_result_then_each_helpers_running_at_once():
    workers = Workers(2)
    try:
        together = threading.Barrier(3, timeout=10)  # passes only if three threads run at once

        def fn() -> str:
            together.wait()
            return threading.current_thread().name

        results = workers.run(fn, helpers=2)
        assert results[0] == threading.current_thread().name
        assert len(set(results)) == 3
        together = threading.Barrier(3, timeout=10)
        assert len(workers.run(fn, helpers=5)) == 3  # more helpers than threads: capped
    finally:
        workers.close()


@pytest.mark.parametrize("who", ["helper", "caller"])
def test_an_error_is_raised_once_every_helper_is_done(who):
    workers = Workers(1)
    finished = []

    def fn() -> None:
        me = "helper" if threading.current_thread().name.startswith("descentlab") else "caller"
        if me == "helper":
            time.sleep(0.05)  # the caller is long done by now
        finished.append(me)
        if me == who:
            raise KeyError(f"from the {me}")

    try:
        with pytest.raises(KeyError, match=f"from the {who}"):
            workers.run(fn, helpers=1)
        assert sorted(finished) == ["caller", "helper"]  # no helper outlives the call
    finally:
        workers.close()


def test_close_ends_the_threads():
    workers = Workers(2, name="closing-test")
    workers.close()
    for t in workers._threads:
        t.join(timeout=5)
        assert not t.is_alive()


def test_a_closed_pool_runs_the_task_on_the_caller_alone():
    workers = Workers(1)
    workers.close()  # e.g. set_num_threads() while a step had already fetched the pool
    assert workers.run(lambda: 7, helpers=1) == [7]  # no task queued behind the end marker


def test_threads_stepping_at_once_share_one_pool(monkeypatch):
    from descentlab.optim import optimizer

    monkeypatch.setattr(optimizer, "_pool", None)
    together = threading.Barrier(4, timeout=10)
    pools = []

    def fetch() -> None:
        together.wait()
        pools.append(optimizer._workers())

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(p) for p in pools}) == 1
    pools[0].close()


def test_ctrl_c_while_waiting_still_waits_for_the_helpers():
    import signal

    main = threading.main_thread().ident
    workers = Workers(1)
    finished = []

    def fn() -> None:
        if threading.current_thread().name.startswith("descentlab"):
            time.sleep(0.05)  # the caller now waits for this helper
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.2)
            finished.append("helper")

    try:
        with pytest.raises(KeyboardInterrupt):
            workers.run(fn, helpers=1)
        assert finished == ["helper"]  # run() did not return while the helper still worked
    finally:
        workers.close()


def test_a_signal_raised_once_the_wait_returned_does_not_wait_again(monkeypatch):
    # Python may raise a pending KeyboardInterrupt just after lock.acquire() returned: waiting
    # again on that lock, now held by the caller, would block forever
    from descentlab.optim import _workers

    class InterruptedAfterAcquiring:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.lock.acquire()
            self.waits = 0

        def release(self) -> None:
            self.lock.release()

        def acquire(self) -> bool:
            self.waits += 1
            if self.waits > 1:  # a real lock would block here forever
                return True
            self.lock.acquire()
            raise KeyboardInterrupt

    ends: list[InterruptedAfterAcquiring] = []

    def task_end() -> InterruptedAfterAcquiring:
        ends.append(InterruptedAfterAcquiring())
        return ends[-1]

    monkeypatch.setattr(_workers, "_task_end", task_end)
    workers = Workers(1)
    try:
        with pytest.raises(KeyboardInterrupt):
            workers.run(lambda: 1, helpers=1)
        assert [e.waits for e in ends] == [1]
    finally:
        workers.close()
