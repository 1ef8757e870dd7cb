"""The dbstack smoke app's Django project; the Celery app is loaded with Django so tasks can be queued."""
from .celery import app as celery_app

__all__ = ("celery_app",)
