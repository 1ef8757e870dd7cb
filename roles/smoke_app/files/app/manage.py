#!/usr/bin/env python3
"""Django's command-line entry point for the dbstack smoke app (run it through /usr/local/bin/dbstack-smoke)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smokeproj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
