"""The Celery app, configured from the same ini file as the web app, and the after-commit
sending of tasks. Tasks are thin: each opens its own transaction and calls a kariya service.
The tasks themselves live in one module per kariya domain (tasks/coupons.py, …)."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time

from celery import Celery
from pyramid.events import ApplicationCreated
from pyramid.exceptions import ConfigurationError

from kariya.settings import settings_of

log = logging.getLogger(__name__)

celery_app = Celery("kariya", set_as_current=True)
celery_app.registry = None  # the Pyramid registry, set by configure()
# An eager task runs with the registry of the app that enqueued it (several apps may share this
# process, as in the tests); a worker uses celery_app.registry.
_eager_registry: contextvars.ContextVar = contextvars.ContextVar(
    "kariya_eager_registry", default=None
)

# The task modules, one per kariya domain; each declares its own beat entries in its includeme.
MODULES = (
    "tasks.coupons",
    "tasks.materials",
    "tasks.payouts",
    "tasks.mail",
    "tasks.reports",
    "tasks.callcenter",
    "tasks.fraud",
)
SCHEDULE_KEY = "tasks.beat_schedule"
# Seconds the broker may take to answer (above kombu's 1 s BRPOP, which a worker waits in).
BROKER_TIMEOUT = 2


def configure(registry) -> Celery:
    settings = settings_of(registry)
    eager = settings.celery.always_eager
    celery_app.conf.update(
        broker_url=settings.celery.broker_url,
        task_always_eager=eager,
        task_eager_propagates=True,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # A broker that hangs (Redis stopped answering) fails a send within seconds instead of
        # holding the request that sends after its commit for as long as Redis hangs.
        broker_transport_options={
            "visibility_timeout": 3600,
            "socket_timeout": BROKER_TIMEOUT,
            "socket_connect_timeout": BROKER_TIMEOUT,
        },
        task_publish_retry_policy={
            "max_retries": 1,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.2,
        },
        beat_schedule=registry.get(SCHEDULE_KEY, {}),
        worker_hijack_root_logger=False,
    )
    celery_app.registry = registry
    return celery_app


def _send_after_commit(success: bool, registry, task_name: str, args, kwargs) -> None:
    if not success:  # the commit failed (an aborted transaction calls no after-commit hook)
        log.info("task not sent: commit failed", extra={"task": task_name})
        return
    try:
        if celery_app.conf.task_always_eager:
            token = _eager_registry.set(registry)
            try:
                celery_app.tasks[task_name].apply(args=args, kwargs=kwargs)
            finally:
                _eager_registry.reset(token)
        else:
            celery_app.send_task(task_name, args=args, kwargs=kwargs)
    except Exception:  # never raise from a commit hook
        log.exception("could not send task", extra={"task": task_name})


def enqueue(transaction_manager, registry, task_name: str, *args, **kwargs) -> None:
    """Send `task_name` once the current transaction commits; never if it aborts."""
    transaction_manager.get().addAfterCommitHook(
        _send_after_commit, args=(registry, task_name, list(args), kwargs)
    )


@contextlib.contextmanager
def task_context():
    """A database session in its own transaction and the clock, for a task body."""
    from kariya.clock import make_clock
    from kariya.db import unit_of_work

    registry = _eager_registry.get() or celery_app.registry
    with unit_of_work(registry) as db:
        settings = settings_of(registry)
        yield db, make_clock(settings, db), settings


def add_periodic_task(config, name: str, task, seconds: float) -> None:
    """Config directive: a beat entry, declared by the task module that owns `task`."""
    schedule = config.registry.setdefault(SCHEDULE_KEY, {})
    if name in schedule:
        raise ConfigurationError(f"beat entry {name!r} is declared twice")
    schedule[name] = {"task": task.name, "schedule": seconds}


def start_inprocess_beat(registry) -> threading.Thread | None:
    """Development only: with eager Celery and no beat process, run the schedule in a thread."""
    seconds = settings_of(registry).inprocess_beat_seconds
    if seconds <= 0 or not celery_app.conf.task_always_eager:
        return None
    schedule = registry.get(SCHEDULE_KEY, {})

    def loop():
        while True:
            time.sleep(seconds)
            for entry in schedule.values():
                try:
                    celery_app.tasks[entry["task"]].apply()
                except Exception:
                    log.exception("in-process beat task failed", extra={"task": entry["task"]})

    thread = threading.Thread(target=loop, name="kariya-inprocess-beat", daemon=True)
    thread.start()
    return thread


def _start_inprocess_beat(event: ApplicationCreated) -> None:
    """The web app (pserve) runs the beat itself when asked to; the worker and the CLI never
    make a WSGI app, so they never start it."""
    start_inprocess_beat(event.app.registry)


def includeme(config):
    config.add_directive("add_periodic_task", add_periodic_task)
    for module in MODULES:
        config.include(module)
    configure(config.registry)
    config.add_request_method(
        lambda request, name, *a, **kw: enqueue(request.tm, request.registry, name, *a, **kw),
        "enqueue",
    )
    config.add_subscriber(_start_inprocess_beat, ApplicationCreated)
