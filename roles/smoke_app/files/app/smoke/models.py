"""What a smoke run touches and what it records.

Item:    the row a task reads, holds while it idles, then saves (one per run, keyed by the run's token).
Effect:  one row per applied save. Its token is unique, so a save repeated after a lost COMMIT reply
         cannot be applied twice.
TaskRun: what happened, per task run: variant, idle time, driver, the save's outcome (or the exact
         MySQL error code and message), the follow-up query on the same connection, and the query
         after connection.close().
"""

from django.db import models


class Item(models.Model):
    token = models.CharField(max_length=64, unique=True)
    value = models.IntegerField(default=0)
    saved_by = models.CharField(max_length=64, null=True, blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)


class Effect(models.Model):
    token = models.CharField(max_length=64, unique=True)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="effects")
    attempt = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class TaskRun(models.Model):
    token = models.CharField(max_length=64, unique=True)
    task_id = models.CharField(max_length=64, blank=True)
    variant = models.CharField(max_length=16)
    idle_seconds = models.FloatField()
    driver = models.CharField(max_length=64)
    worker = models.CharField(max_length=128)
    fault = models.CharField(max_length=32, blank=True)
    conn_max_age = models.FloatField(null=True)
    haproxy_timeout = models.CharField(max_length=32)
    # "saved" or "error"; on error the exception as Django raised it and the driver's code/message.
    outcome = models.CharField(max_length=8)
    error_class = models.CharField(max_length=128, blank=True)
    error_code = models.IntegerField(null=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    retry_log = models.TextField(blank=True)
    # The next query on the same connection after the save ("ok", "error" or "skipped").
    followup_outcome = models.CharField(max_length=8)
    followup_error_class = models.CharField(max_length=128, blank=True)
    followup_error_code = models.IntegerField(null=True)
    followup_error_message = models.TextField(blank=True)
    # A query after connection.close(): Django connects again.
    after_close_outcome = models.CharField(max_length=8)
    after_close_error_class = models.CharField(max_length=128, blank=True)
    after_close_error_code = models.IntegerField(null=True)
    after_close_error_message = models.TextField(blank=True)
    read_connection_id = models.BigIntegerField(null=True)
    after_close_connection_id = models.BigIntegerField(null=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.attname) for f in self._meta.concrete_fields if f.name != "id"}
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat()
        return data
