from django.apps import AppConfig


class SmokeConfig(AppConfig):
    name = "smoke"
    verbose_name = "dbstack smoke test: Celery tasks that hold a database connection idle"
    default_auto_field = "django.db.models.BigAutoField"
