"""Times HTTP health checks the way HAProxy makes them; runs on a lab host with the host's python3 alone.

    python3 check_probe.py --targets IP,IP,IP --seconds 20 --rate 10 [--port 9200]

Each round opens one connection per target, sends HAProxy's request, reads the answer to the end
and records how long that took (milliseconds) and whether it was a 200. Prints one JSON object:
{"ms": {target: [...]}, "not_ok": {target: count}}.
"""

from __future__ import annotations

import argparse
import json
import socket
import time

REQUEST = b"GET / HTTP/1.0\r\n\r\n"


def check(target: str, port: int, timeout: float) -> bool:
    with socket.create_connection((target, port), timeout=timeout) as sock:
        sock.sendall(REQUEST)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer.startswith(b"HTTP/1.1 200 ")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=float, default=10.0, help="rounds per second")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    targets = args.targets.split(",")
    times = {target: [] for target in targets}
    not_ok = {target: 0 for target in targets}
    end = time.monotonic() + args.seconds
    next_round = time.monotonic()
    while time.monotonic() < end:
        for target in targets:
            started = time.monotonic()
            try:
                ok = check(target, args.port, args.timeout)
            except OSError:
                ok = False
            times[target].append((time.monotonic() - started) * 1000)
            not_ok[target] += not ok
        next_round += 1 / args.rate
        time.sleep(max(0.0, next_round - time.monotonic()))
    print(json.dumps({"ms": times, "not_ok": not_ok}))


if __name__ == "__main__":
    main()
