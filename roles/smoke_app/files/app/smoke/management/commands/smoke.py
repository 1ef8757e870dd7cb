"""manage.py smoke: queue smoke tasks and read their results, or show the settings in force.

    dbstack-smoke smoke run --variant naive --idle 12 --json
    dbstack-smoke smoke run --variant naive --variant close --variant tenacity --idle 6 --json
    dbstack-smoke smoke run --variant tenacity --idle 1 --fault lose-commit-reply --json
    dbstack-smoke smoke config --json
    dbstack-smoke smoke tls --json

`run` queues one task per (variant, idle) pair at once, so they idle in parallel, waits for all, and
prints what each recorded (the TaskRun row read back from the database). It exits 0 when every task
finished, whatever the database did: a failed save is a result, reported in "outcome".
`tls` opens one connection with the app's settings and shows the TLS it negotiated and the node it
reached; a refused certificate fails it with the driver's error.
"""

import json
import uuid

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from smoke.models import Item, TaskRun
from smoke.tasks import LOSE_COMMIT_REPLY, VARIANTS, driver_name


class Command(BaseCommand):
    help = "Queue smoke tasks that hold a database connection idle, and report what happened."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="queue tasks and wait for their results")
        run.add_argument("--variant", action="append", choices=sorted(VARIANTS),
                         help="naive, close or tenacity; repeat for several (default naive)")
        run.add_argument("--idle", action="append", type=float,
                         help="seconds the task holds its connection idle; repeat for several (default 1)")
        run.add_argument("--fault", choices=[LOSE_COMMIT_REPLY], default="",
                         help="tenacity only: the first COMMIT succeeds but its reply is lost")
        run.add_argument("--wait", type=float, default=None,
                         help="seconds to wait for the results (default: the task time limit + 30)")
        run.add_argument("--json", action="store_true", help="print JSON")
        config = sub.add_parser("config", help="show the database and timeout settings in force")
        config.add_argument("--json", action="store_true", help="print JSON")
        tls = sub.add_parser("tls", help="connect once and show the TLS the connection negotiated")
        tls.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **opts):
        if opts["action"] == "config":
            return self.emit(self.config(), opts["json"], self.config_text)
        if opts["action"] == "tls":
            return self.emit(self.tls(), opts["json"], self.config_text)
        return self.emit(self.run(opts), opts["json"], self.run_text)

    def emit(self, data, as_json, as_text):
        self.stdout.write(json.dumps(data, indent=2, sort_keys=True) if as_json else as_text(data))

    @staticmethod
    def config() -> dict:
        db = settings.DATABASES["default"]
        return {"driver": driver_name(), "host": db["HOST"], "port": int(db["PORT"]), "name": db["NAME"],
                "conn_max_age": db["CONN_MAX_AGE"], "conn_health_checks": db["CONN_HEALTH_CHECKS"],
                "task_time_limit": settings.CELERY_TASK_TIME_LIMIT, **settings.SMOKE}

    @staticmethod
    def tls() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
            status = dict(cursor.fetchall())
            cursor.execute("SELECT @@hostname")
            node = cursor.fetchone()[0]
        return {"driver": driver_name(), "host": settings.DATABASES["default"]["HOST"], "node": node,
                "tls_version": status.get("Ssl_version", ""), "tls_cipher": status.get("Ssl_cipher", "")}

    @staticmethod
    def config_text(data: dict) -> str:
        return "\n".join(f"{k}: {v}" for k, v in sorted(data.items()))

    def run(self, opts) -> dict:
        variants = opts["variant"] or ["naive"]
        idles = opts["idle"] or [1.0]
        if opts["fault"] and variants != ["tenacity"]:
            raise CommandError("--fault lose-commit-reply applies to --variant tenacity only")
        limit = settings.CELERY_TASK_TIME_LIMIT
        too_long = [i for i in idles if i >= limit]
        if too_long:
            raise CommandError(f"--idle {too_long[0]:g} is not shorter than the task time limit ({limit} s): "
                               "Celery would kill the task before it saves.")
        planned = []
        for variant in variants:
            for idle in idles:
                token = uuid.uuid4().hex
                planned.append({"variant": variant, "idle": idle, "token": token,
                                "item_id": Item.objects.create(token=token).pk})
        # This process waits as long as the tasks idle: holding its own connection that long would
        # let HAProxy cut it too (the very outage). Django connects again for the read-back.
        connection.close()
        queued = []
        for p in planned:
            kwargs = {"item_id": p["item_id"], "idle": p["idle"], "token": p["token"]}
            if p["variant"] == "tenacity" and opts["fault"]:
                kwargs["fault"] = opts["fault"]
            queued.append((p, VARIANTS[p["variant"]].apply_async(kwargs=kwargs)))
        wait = opts["wait"] if opts["wait"] is not None else limit + 30
        runs, unfinished = [], 0
        for p, result in queued:
            entry = {"variant": p["variant"], "idle": p["idle"], "token": p["token"], "task_id": result.id}
            try:
                result.get(timeout=wait, propagate=False)
                entry["state"] = result.state
                if result.state != "SUCCESS":
                    entry["task_error"] = repr(result.result)
                    unfinished += 1
            except CeleryTimeout:
                entry["state"] = "TIMEOUT"
                unfinished += 1
            row = TaskRun.objects.filter(token=p["token"]).first()
            entry["run"] = row.as_dict() if row else None
            item = Item.objects.get(pk=p["item_id"])
            entry["item"] = {"id": item.pk, "value": item.value, "saved_by": item.saved_by,
                             "effects": item.effects.count()}
            runs.append(entry)
        data = {"config": self.config(), "runs": runs}
        if unfinished:
            self.stdout.write(json.dumps(data, indent=2, sort_keys=True) if opts["json"] else self.run_text(data))
            raise CommandError(f"{unfinished} task(s) did not finish (see state/task_error above); "
                               "check the worker: journalctl -u dbstack-smoke-worker")
        return data

    @staticmethod
    def run_text(data: dict) -> str:
        lines = [f"driver {data['config']['driver']}, HAProxy timeout {data['config']['haproxy_timeout']}, "
                 f"CONN_MAX_AGE {data['config']['conn_max_age']}"]
        for e in data["runs"]:
            r = e["run"] or {}
            if not r:
                lines.append(f"{e['variant']:<9} idle {e['idle']:>5g} s: task {e['state']} {e.get('task_error', '')}")
                continue
            save = "saved" if r["outcome"] == "saved" else f"FAILED ({r['error_code']}, {r['error_message']!r})"
            follow = ("ok" if r["followup_outcome"] == "ok"
                      else f"FAILED ({r['followup_error_code']}, {r['followup_error_message']!r})")
            lines.append(f"{e['variant']:<9} idle {e['idle']:>5g} s: save {save}; next query {follow}; "
                         f"after close {r['after_close_outcome']}; attempts {r['attempts']}")
        return "\n".join(lines)
