"""Celery application: settings come from Django's (CELERY_* names), tasks from the smoke app."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smokeproj.settings")

app = Celery("smokeproj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
