"""Group commit per process: the acquisitions that arrive within a few milliseconds are written
by one thread in one transaction (kariya.coupons.batch), and each waiting request is answered.

Why: on the single path every acquisition pays its own statements, its own COMMIT (a WAL
flush) and its own turn at the round's row lock; in a batch of k they are paid once, so the
database's work per acquisition falls by about k (issue 16, PATTERNS.md "Allocation under the
rush"). It needs many requests in flight per process (gunicorn's gthread workers): each request
thread hands its ask to the committer and waits for the answer.

The committer takes the first ask that comes, then whatever else arrives within `window`
seconds, up to `max_batch` asks (one per person: a second ask of the same person waits for the
next batch), and writes them. Whatever the batch does not settle (refusals, returning LINE
accounts, the last packs before the sell-out, any error of the batch, including a lost
connection) is answered None: the request takes the single path in its own transaction, so
the batch decides nothing that the single path would decide otherwise. The thread starts with
the first ask in each process (after gunicorn forks) and is a daemon.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from sqlalchemy.orm import sessionmaker

from kariya.coupons import batch
from kariya.db import get_engine, get_session_factory
from kariya.settings import Settings

log = logging.getLogger(__name__)


class _Waiting:
    """An ask and the event its request waits on; `answer` is set before the event."""

    __slots__ = ("ask", "answer", "done")

    def __init__(self, ask: batch.Ask):
        self.ask = ask
        self.answer: dict | None = None
        self.done = threading.Event()


class GroupCommit:
    def __init__(
        self,
        session_factory: sessionmaker,
        *,
        window: float,
        max_batch: int,
        reserve: int,
        wait: float,
    ):
        self.session_factory = session_factory
        self.engine = None  # set by group_commit(): the engine of its own connection
        self.window = window
        self.max_batch = max_batch
        self.reserve = reserve
        self.wait = wait
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._held: list[_Waiting] = []  # asks of a person already in the batch being built
        self._lock = threading.Lock()
        self._pid = 0  # the process whose committer runs (a forked child starts its own)
        self.batches = 0  # counters, for the benchmark and the tests
        self.acquired = 0
        self.fallbacks = 0

    def acquire(self, ask: batch.Ask) -> dict | None:
        """The 201 answer if the batch acquired for the ask; None: take the single path. Waits
        at most `wait` seconds for the batch (then None: the single path, whose claim waits for
        a batch still writing this person's acquisition and then sees it)."""
        self._ensure_running()
        waiting = _Waiting(ask)
        self._queue.put(waiting)
        if not waiting.done.wait(self.wait):
            return None
        return waiting.answer

    def _ensure_running(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        with self._lock:
            if self._pid != pid:
                self._queue = queue.SimpleQueue()  # nothing queued in a parent belongs here
                self._held = []
                threading.Thread(
                    target=self._run, name="acquisition-group-commit", daemon=True
                ).start()
                self._pid = pid

    def _next_batch(self) -> list[_Waiting]:
        pending, self._held = self._held, []
        if not pending:
            pending.append(self._queue.get())
        deadline = time.monotonic() + self.window
        taken: list[_Waiting] = []
        persons: set[int] = set()
        while True:
            for waiting in pending:
                if len(taken) < self.max_batch and waiting.ask.person_id not in persons:
                    persons.add(waiting.ask.person_id)
                    taken.append(waiting)
                else:
                    self._held.append(waiting)
            if len(taken) >= self.max_batch:
                return taken
            remaining = deadline - time.monotonic()
            try:
                pending = [
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                ]
            except queue.Empty:
                return taken

    def _run(self) -> None:
        while True:
            taken = self._next_batch()
            answers = self._write([w.ask for w in taken])
            self.batches += 1
            for waiting in taken:
                waiting.answer = answers.get(waiting.ask.person_id)
                waiting.done.set()

    def _write(self, asks: list[batch.Ask]) -> dict[int, dict]:
        db = self.session_factory()
        try:
            answers = batch.acquire_many(db, asks, reserve=self.reserve)
            db.commit()
        except batch.Fallback:
            db.rollback()
            answers = {}
        except Exception:  # the single path meets the same failure and answers it
            log.exception(
                "group commit of %d acquisitions failed; they take the single path", len(asks)
            )
            db.rollback()
            answers = {}
        finally:
            db.close()
        self.acquired += len(answers)
        self.fallbacks += len(asks) - len(answers)
        return answers


def group_commit(settings: Settings, raw: dict) -> GroupCommit | None:
    """The process's committer, or None when the setting turns group commit off, and on SQLite
    (the demo: no rush). It has a connection of its own (an engine of one, made from the same
    `sqlalchemy.*` settings): the requests waiting for it may hold every connection of the
    app's pool, and a committer waiting for one of them would wait for itself."""
    acq = settings.acquisition
    if acq.group_commit_max <= 1 or raw["sqlalchemy.url"].startswith("sqlite"):
        return None
    engine = get_engine({**raw, "sqlalchemy.pool_size": "1", "sqlalchemy.max_overflow": "0"})
    committer = GroupCommit(
        get_session_factory(engine),
        window=acq.group_commit_window_ms / 1000,
        max_batch=acq.group_commit_max,
        reserve=acq.group_commit_reserve,
        wait=acq.group_commit_wait_seconds,
    )
    committer.engine = engine  # its own connection's engine (the tests watch it)
    return committer
