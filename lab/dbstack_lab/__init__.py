"""labctl - the dbstack.galera multi-host test lab: podman containers running systemd.

One implementation of host preparation, image build and host creation, used by `make lab`,
by every molecule scenario (molecule/shared/create.yml and destroy.yml) and by the benchmarks.
Run `lab/labctl --help`; docs/lab.md explains the design and the traps it works around.

Modules: common (names, limits, messages, running commands), host (prepare-host), images,
inventory (hosts, addresses, the inventory file), containers (up, down, status), deploy (make lab),
cli (the command line); lab/labctl runs cli.main.

Written against the system Python (Debian 12: 3.11) and its standard library only, because it
must run on a fresh machine before any venv exists.
"""
