# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Listen for VRRP advertisements for a few seconds and print who sent which router id, as JSON.

    python3 vrrp_listen.py --address 10.0.0.21 --seconds 3

Run by the keepalived role's preflight through ansible.builtin.script (nothing is installed): a
router id another VRRP cluster on the network already uses would make both clusters fight over
their addresses. Hears multicast (224.0.0.18, joined on the interface that has --address) and
unicast advertisements to this host, VRRPv2 and v3 alike (the router id is the second byte).
"""

import argparse
import json
import select
import socket
import struct
import time

VRRP_PROTOCOL = 112
VRRP_GROUP = "224.0.0.18"


def listen(address, seconds):
    seen = {}
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, VRRP_PROTOCOL) as sock:
        membership = struct.pack("4s4s", socket.inet_aton(VRRP_GROUP), socket.inet_aton(address))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                continue
            packet, (source, _port) = sock.recvfrom(2048)
            header_length = (packet[0] & 0x0F) * 4
            vrrp = packet[header_length:]
            if len(vrrp) >= 2:
                seen.setdefault(source, set()).add(vrrp[1])
    return [{"source": source, "router_ids": sorted(ids)} for source, ids in sorted(seen.items())]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--address", required=True, help="this host's address on the VIP's network")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps({"advertisements": listen(args.address, args.seconds)}))


if __name__ == "__main__":
    main()
