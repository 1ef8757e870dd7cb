"""The labctl command line: one subcommand per step, errors as one line naming the fix."""

from __future__ import annotations

import argparse
import os
import sys

from .common import DEFAULT_HOSTS, DEFAULT_NAME, DEFAULT_SUBNET, LabError, RELEASES
from .host import cmd_prepare_host
from .images import cmd_images
from .containers import cmd_authorize, cmd_check, cmd_down, cmd_status, cmd_up
from .deploy import cmd_deploy


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="labctl", description="the dbstack.galera multi-host test lab: podman containers running systemd")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare-host", help="install podman & co., write containers.conf (idempotent)")
    p.set_defaults(func=cmd_prepare_host)

    p = sub.add_parser("images", help="build the debootstrap base and systemd images (skipped when present)")
    p.add_argument("--release", choices=(*RELEASES, "all"), default="bookworm")
    p.add_argument("--rebuild", action="store_true", help="rebuild even when the images exist")
    p.set_defaults(func=cmd_images)

    p = sub.add_parser("up", help="(re)create a lab: network, containers, wait for systemd, write inventory")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"lab name and container prefix (default {DEFAULT_NAME})")
    p.add_argument("--subnet", help=f"IPv4 CIDR, own per lab (default {DEFAULT_SUBNET} for {DEFAULT_NAME})")
    p.add_argument("--release", choices=RELEASES, default="bookworm")
    p.add_argument("--hosts", default=DEFAULT_HOSTS, help=f"HOST:GROUP[+GROUP][@N],... (default {DEFAULT_HOSTS})")
    p.add_argument("--inventory", help="where to write the inventory (default inventories/lab/hosts.yml "
                                       f"for {DEFAULT_NAME}, else .lab/NAME/hosts.yml)")
    p.add_argument("--json", metavar="FILE", help="also write the lab description as JSON to FILE")
    p.add_argument("--keep", action="store_true",
                   help="keep the lab when it exists in the asked shape (start stopped hosts) instead of recreating it")
    p.add_argument("--ssh-dir", help="where the lab's SSH key and known_hosts go (default .lab/NAME/ssh)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("check", help="log in to every host over SSH as Ansible will, and sudo (changes nothing)")
    p.add_argument("--name", default=DEFAULT_NAME)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("authorize", help="install the lab's SSH key (a new one if it is missing) and sudo rule "
                                         "on every host again, keeping their data")
    p.add_argument("--name", default=DEFAULT_NAME)
    p.set_defaults(func=cmd_authorize)

    p = sub.add_parser("down", help="remove a lab's containers and network (only ours; safe twice)")
    p.add_argument("--name", default=DEFAULT_NAME)
    p.add_argument("--inventory", help="inventory file written by up, removed here")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="list a lab's containers")
    p.add_argument("--name", default=DEFAULT_NAME)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("deploy", help="prepare-host + images + dbstack-lab (kept when it exists) + playbooks/site.yml "
                                      "+ summary")
    p.add_argument("--release", choices=RELEASES, default="bookworm")
    p.add_argument("--reset", action="store_true", help="recreate the lab even when it exists (its data is lost)")
    p.set_defaults(func=cmd_deploy)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except LabError as e:
        print(f"labctl {args.command}: ERROR: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"labctl {args.command}: interrupted; `lab/labctl down --name ...` removes a half-built lab.",
              file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line for the user; LABCTL_DEBUG=1 for the traceback
        if os.environ.get("LABCTL_DEBUG"):
            raise
        print(f"labctl {args.command}: ERROR: unexpected {type(e).__name__}: {e} "
              "(re-run with LABCTL_DEBUG=1 for a traceback and report it)", file=sys.stderr)
        return 1
    return 0
