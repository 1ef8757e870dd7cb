"""Three ways a Celery task can read a row, stay idle holding its connection, then save.

naive     what most code does: the connection idles with the task. When HAProxy's idle timeout is
          shorter than the idle time, the save fails with MySQL 2013 (2026 "TLS/SSL error" with
          mysqlclient over TLS) and the connection stays unusable (2006 with mysqlclient,
          InterfaceError(0, '') with PyMySQL) until it is closed.
close     connection.close() right after the read; Django connects again for the save.
tenacity  the save in transaction.atomic(), retried with exponential waits on OperationalError /
          InterfaceError, the connection closed between tries. Retrying is only safe because the
          save is idempotent: a connection lost during COMMIT may leave the write committed.

Each run records a TaskRun row (see models.py) and returns it as a dict.
"""

import logging
import os
import socket
import time

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from .models import Effect, Item, TaskRun

log = logging.getLogger("smoke")

LOSE_COMMIT_REPLY = "lose-commit-reply"


def driver_name() -> str:
    import MySQLdb  # the real mysqlclient, or PyMySQL installed under that name by the settings

    if MySQLdb.__name__ == "pymysql":
        # PyMySQL's __version__ is the mysqlclient version it imitates; VERSION_STRING is its own.
        return f"pymysql {MySQLdb.VERSION_STRING}"
    return f"mysqlclient {MySQLdb.__version__}"


def describe(exc: BaseException) -> dict:
    """The exception as Django raised it, with the driver's (code, message) arguments verbatim."""
    args = exc.args
    code = args[0] if args and isinstance(args[0], int) else None
    if code is not None:
        message = str(args[1]) if len(args) > 1 else ""
    else:
        message = str(exc)
    return {"error_class": f"{type(exc).__module__}.{type(exc).__qualname__}", "error_code": code,
            "error_message": message}


def probe(prefix: str) -> tuple[dict, int | None]:
    """One query on the current connection: {PREFIX_outcome, PREFIX_error_*} and the connection id."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            conn_id = cursor.fetchone()[0]
        return {f"{prefix}_outcome": "ok"}, conn_id
    except (OperationalError, InterfaceError) as exc:
        return {f"{prefix}_outcome": "error", **{f"{prefix}_{k}": v for k, v in describe(exc).items()}}, None


def read_and_idle(item_id: int, idle: float, close_before_idle: bool) -> tuple[Item, int]:
    item = Item.objects.get(pk=item_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        conn_id = cursor.fetchone()[0]
    if close_before_idle:
        # Nothing to do with the database while idle: do not hold a connection HAProxy will cut.
        connection.close()
    time.sleep(idle)
    return item, conn_id


def save_plain(item: Item, token: str) -> None:
    """The save as most code writes it: the model's save() with what was read, then one more row."""
    item.value += 1
    item.saved_by = token
    item.saved_at = timezone.now()
    item.save(update_fields=["value", "saved_by", "saved_at"])
    Effect.objects.create(token=token, item=item, attempt=1)


def save_idempotent(item_id: int, token: str, attempt: int) -> bool:
    """Apply the save at most once per token, atomically. Returns False if it had been applied.

    A retry after a lost COMMIT reply finds the item already saved by this token and changes nothing;
    Effect's unique token is the second guard (a duplicate insert rolls the whole block back).
    """
    with transaction.atomic():
        updated = (Item.objects.filter(pk=item_id).exclude(saved_by=token)
                   .update(value=F("value") + 1, saved_by=token, saved_at=timezone.now()))
        if not updated:
            return False
        Effect.objects.create(token=token, item_id=item_id, attempt=attempt)
        return True


def finish(run: dict, *, token: str, variant: str, idle: float, fault: str, task_id: str,
           started_at) -> dict:
    """Follow-up query on the same connection, close, one more query, then record the run."""
    followup, _followup_code = probe("followup")
    connection.close()
    after_close, after_close_id = probe("after_close")
    db = settings.DATABASES["default"]
    record = TaskRun(
        token=token, task_id=task_id, variant=variant, idle_seconds=idle, driver=driver_name(),
        worker=f"{socket.gethostname()} pid {os.getpid()}", fault=fault,
        conn_max_age=db.get("CONN_MAX_AGE"), haproxy_timeout=settings.SMOKE["haproxy_timeout"],
        after_close_connection_id=after_close_id, started_at=started_at, finished_at=timezone.now(),
        **followup, **after_close, **run)
    record.save()
    return record.as_dict()


def run_plain(variant: str, task, item_id: int, idle: float, token: str) -> dict:
    started_at = timezone.now()
    run = {"attempts": 1}
    try:
        item, run["read_connection_id"] = read_and_idle(item_id, idle, close_before_idle=(variant == "close"))
        save_plain(item, token)
        run["outcome"] = "saved"
    except (OperationalError, InterfaceError) as exc:
        run.update(outcome="error", **describe(exc))
        log.error("smoke %s %s: save after %.1f s idle failed: %s", variant, token, idle, exc)
    return finish(run, token=token, variant=variant, idle=idle, fault="", task_id=task.request.id or "",
                  started_at=started_at)


@shared_task(bind=True, name="smoke.naive")
def naive(self, item_id: int, idle: float, token: str) -> dict:
    return run_plain("naive", self, item_id, idle, token)


@shared_task(bind=True, name="smoke.close")
def close(self, item_id: int, idle: float, token: str) -> dict:
    return run_plain("close", self, item_id, idle, token)


@shared_task(bind=True, name="smoke.tenacity")
def tenacity(self, item_id: int, idle: float, token: str, fault: str = "") -> dict:
    started_at = timezone.now()
    run = {"attempts": 0}
    retry_log: list[str] = []

    def save_once() -> None:
        run["attempts"] += 1
        applied = save_idempotent(item_id, token, run["attempts"])
        if not applied:
            log.warning("smoke tenacity %s: attempt %d found the save already applied; nothing to do",
                        token, run["attempts"])
            retry_log.append(f"attempt {run['attempts']}: already applied, nothing to do")
        if fault == LOSE_COMMIT_REPLY and run["attempts"] == 1:
            # Fault injection: the COMMIT above reached the server and succeeded, but the client
            # never sees the reply - what happens when a connection dies during COMMIT. The driver
            # then raises 2013 and drops the connection; do the same.
            connection.close()
            raise OperationalError(2013, "Lost connection to MySQL server during query "
                                         "(simulated: the COMMIT succeeded, its reply was lost)")

    def before_retry(state) -> None:
        exc = state.outcome.exception()
        line = (f"attempt {state.attempt_number} failed: {describe(exc)['error_code']} {exc}; "
                f"closing the connection, retry in {state.next_action.sleep:.2f} s")
        retry_log.append(line)
        log.warning("smoke tenacity %s: %s", token, line)
        # A connection that lost its server is unusable until closed; Django reconnects on the next query.
        connection.close()

    try:
        item, run["read_connection_id"] = read_and_idle(item_id, idle, close_before_idle=False)
        Retrying(
            retry=retry_if_exception_type((OperationalError, InterfaceError)),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_attempt(settings.SMOKE["tenacity_attempts"]),
            before_sleep=before_retry,
            reraise=True,
        )(save_once)
        run["outcome"] = "saved"
    except (OperationalError, InterfaceError, IntegrityError) as exc:
        run.update(outcome="error", **describe(exc))
        log.error("smoke tenacity %s: save failed after %d attempt(s): %s", token, run["attempts"], exc)
    run["retry_log"] = "\n".join(retry_log)
    return finish(run, token=token, variant="tenacity", idle=idle, fault=fault, task_id=self.request.id or "",
                  started_at=started_at)


VARIANTS = {"naive": naive, "close": close, "tenacity": tenacity}
