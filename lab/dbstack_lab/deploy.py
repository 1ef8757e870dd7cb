"""deploy (make lab): prepare the host, keep or create the default lab, and run playbooks/site.yml and status.yml on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .common import DEFAULT_HOSTS, DEFAULT_NAME, DEFAULT_SUBNET, LabError, REPO, say
from .host import cmd_prepare_host
from .containers import lab_reuse, lab_up


def ansible_env() -> tuple[dict, str]:
    venv_bin = REPO / ".venv" / "bin"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               PATH=f"{venv_bin}:{os.environ.get('PATH', '')}")
    playbook = shutil.which("ansible-playbook", path=env["PATH"])
    if not playbook:
        raise LabError("ansible-playbook not found: run `make venv` (scripts/venv.sh) first.")
    return env, playbook


def cmd_deploy(args) -> None:
    cmd_prepare_host(args)
    env, playbook = ansible_env()
    if args.reset:
        say(f"--reset: recreating lab {DEFAULT_NAME}; whatever it held is gone")
        result = lab_up(DEFAULT_NAME, DEFAULT_SUBNET, args.release, DEFAULT_HOSTS, None)
    else:
        # A re-run converges the lab that is there (site.yml is idempotent): its data stays.
        result = (lab_reuse(DEFAULT_NAME, DEFAULT_SUBNET, args.release, DEFAULT_HOSTS, None)
                  or lab_up(DEFAULT_NAME, DEFAULT_SUBNET, args.release, DEFAULT_HOSTS, None))
    inv = result["inventory"]
    # One ansible-playbook run for both: one start-up, one failure message. (Measured: no faster than
    # two runs; a second `make lab` takes 28.6-30.3 s either way.)
    playbooks = [REPO / "playbooks" / "site.yml", REPO / "playbooks" / "status.yml"]
    say(f"ansible-playbook -i {Path(inv).relative_to(REPO)} playbooks/site.yml playbooks/status.yml")
    t0 = time.monotonic()
    rc = subprocess.run([playbook, "-i", inv, *map(str, playbooks)], cwd=REPO, env=env, check=False).returncode
    if rc != 0:
        raise LabError(f"site.yml or status.yml failed (exit {rc}); the lab is still up for debugging "
                       f"(`podman exec -it {DEFAULT_NAME}-galera1 bash`, `lab/labctl down` to remove it).")
    say(f"site.yml and status.yml finished in {time.monotonic() - t0:.0f} s")
