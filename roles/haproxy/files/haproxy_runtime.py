# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HAProxy's runtime API from the HAProxy host, without socat.

    python3 haproxy_runtime.py SOCKET COMMAND...     print HAProxy's answer to one command
    python3 haproxy_runtime.py SOCKET --peers-synced exit 0 once the peers resynchronisation is done, 1 before
    python3 haproxy_runtime.py SOCKET --writer PROXY print the server new connections to PROXY go to

On a reload the new process takes the stick tables over from the old one through the local peer,
but only once the old one has completed its own start-up resync (``show peers`` flags with both
low bits set: local and remote resync done); reloading sooner starts from an empty table. A
HAProxy that is not running or has no peers section has nothing to hand over: --peers-synced
exits 0 then.
"""

import re
import socket
import sys

FLAGS = re.compile(r"^0x[0-9a-f]+: \[[^]]*\] id=\S+ .*?\bflags=(0x[0-9a-f]+)", re.MULTILINE)
RESYNC_DONE = 0x3


def ask(path, command):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.decode(errors="replace")


def peers_synced(path):
    try:
        answer = ask(path, "show peers")
    except OSError:
        return True
    return all(int(value, 16) & RESYNC_DONE == RESYNC_DONE for value in FLAGS.findall(answer))


def writer(path, proxy):
    """The server a new connection goes to with `balance first`: the stick table's server while it is up
    (sticky writer), else the first server up that is not a backup, else the first backup up."""
    rows = [line.split(",") for line in ask(path, "show stat").splitlines() if line and not line.startswith("#")]
    servers = [row for row in rows if row[0] == proxy and row[1] not in ("FRONTEND", "BACKEND")]
    up = [row[1] for row in servers if row[17].startswith("UP")]
    stuck = re.search(r"server_key=([^ \n]+)", ask(path, f"show table {proxy}"))
    if stuck and stuck[1] in up:
        return stuck[1]
    active = [row[1] for row in servers if row[1] in up and row[19] == "1"]
    return (active or up or ["-"])[0]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    if argv[2] == "--peers-synced":
        return 0 if peers_synced(argv[1]) else 1
    if argv[2] == "--writer" and len(argv) == 4:
        print(writer(argv[1], argv[3]))
        return 0
    sys.stdout.write(ask(argv[1], " ".join(argv[2:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
