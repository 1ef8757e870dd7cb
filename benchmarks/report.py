"""Write docs/benchmarks.md (and its plots) from the JSON files run_all.sh leaves in a results folder.

    .venv/bin/python benchmarks/report.py RESULTS_DIR
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
IMAGES = REPO / "docs" / "img"


def load(results: Path, name: str):
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def timeline_plot(failover: dict, mode: str, target: Path) -> bool:
    tries = [t for t in failover["tries"] if t["mode"] == mode]
    if not tries:
        return False
    chosen = sorted(tries, key=lambda t: t["gap_seconds"])[len(tries) // 2]  # the median try
    timeline = chosen["timeline"]
    fig, ax = plt.subplots(figsize=(9, 2.8))
    acked = timeline["acknowledged"]
    ax.eventplot([acked], lineoffsets=1, linelengths=0.6, colors="tab:green", linewidths=0.8)
    failed = [t for t, _code in timeline["failed"]]
    if failed:
        ax.eventplot([failed], lineoffsets=0, linelengths=0.6, colors="tab:red", linewidths=1.2)
    ax.axvline(0, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"{mode} of {chosen['victim']}", (0, 1.45), xytext=(4, 0), textcoords="offset points", fontsize=8)
    if chosen.get("evicted_seconds") is not None:
        ax.axvline(chosen["evicted_seconds"], color="tab:purple", linestyle="-.", linewidth=1)
        ax.annotate("Galera evicted it", (chosen["evicted_seconds"], -0.55), xytext=(4, 0), textcoords="offset points",
                    fontsize=8)
    ax.axvline(timeline["restore_started"], color="tab:blue", linestyle=":", linewidth=1)
    ax.annotate("node brought back", (timeline["restore_started"], 1.45), xytext=(4, 0),
                textcoords="offset points", fontsize=8)
    ax.set_yticks([0, 1], ["failed", "acknowledged"])
    ax.set_ylim(-0.6, 1.7)
    ax.set_xlabel("seconds since the fault")
    ax.set_title(f"Writes through HAProxy, 20/s ({failover['profile']} profile, gap {chosen['gap_seconds']:.2f} s)",
                 fontsize=10)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return True


def in_doubt_committed(row: dict) -> str:
    """How many in-doubt writes did commit, where the run recorded it."""
    return f" ({row['in_doubt_committed']} committed)" if "in_doubt_committed" in row else ""


def failover_section(failover: dict) -> list[str]:
    lines = [f"#### profile `{failover['profile']}`", ""]
    if failover["settings"]:
        lines += ["Settings on top of the defaults: " + ", ".join(f"`{k}: {v}`" for k, v in failover["settings"].items()),
                  ""]
    lines += ["| mode | tries | gap min s | gap median s | gap max s | rejoin stall median s | failed writes | "
              "in doubt | lost |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in failover["summary"]:
        lines.append(f"| {row['mode']} | {row['tries']} | {row['gap_min']:.2f} | {row['gap_median']:.2f} | "
                     f"{row['gap_max']:.2f} | {row['rejoin_stall_median']:.2f} | {row['failed_writes']} | "
                     f"{row['in_doubt']}{in_doubt_committed(row)} | {row['lost']} |")
    evictions = {}
    for attempt in failover["tries"]:
        if attempt.get("evicted_seconds") is not None:
            evictions.setdefault(attempt["mode"], []).append(attempt["evicted_seconds"])
    if evictions:
        lines += ["", "Galera's eviction of the lost writer (the survivors' new Primary view without it, from their "
                  "logs), seconds after the fault: " + "; ".join(
                      f"{mode} min/median/max {min(t):.2f} / {statistics.median(t):.2f} / {max(t):.2f} ({len(t)} tries)"
                      for mode, t in evictions.items())]
    errors = sorted({e for t in failover["tries"] for e in t["errors"]})
    if errors:
        lines += ["", "Errors the writer saw: " + "; ".join(f"`{e}`" for e in errors)]
    return lines + [""]


def main() -> int:
    results = Path(sys.argv[1])
    meta = load(results, "meta") or {}
    out = ["# Benchmarks", "",
           "Written by `benchmarks/run_all.sh` (via `benchmarks/report.py`); do not edit by hand.", "",
           f"- date: {meta.get('date', '?')}",
           f"- machine: {meta.get('machine', '?')}",
           f"- versions: {meta.get('versions', '?')}", ""]

    deploy = load(results, "deploy_speed")
    if deploy:
        out += ["## Deploy speed", "", "`benchmarks/deploy_speed.py`: `playbooks/site.yml` on five fresh lab hosts "
                "(3 Galera, HAProxy, app with the smoke app), images cached, then an idempotent re-run.", "",
                "| try | lab up s | fresh s | changed | re-run s | changed |", "| --- | --- | --- | --- | --- | --- |"]
        for number, t in enumerate(deploy["tries"], 1):
            out.append(f"| {number} | {t['lab_up_seconds']} | {t['fresh_seconds']} | {t['fresh_changed']} | "
                       f"{t['rerun_seconds']} | {t['rerun_changed']} |")
        out += ["", "Targets: fresh <= 150 s, re-run <= 30 s with 0 changed.", ""]

    # failover_PROFILE[_PART].json: runs of one profile may be split by mode; merge them.
    failovers = {}
    for path in sorted(results.glob("failover_*.json")):
        part = json.loads(path.read_text())
        merged = failovers.setdefault(part["profile"], {**part, "summary": [], "tries": []})
        merged["summary"] += part["summary"]
        merged["tries"] += part["tries"]
    failovers = [failovers[profile] for profile in ("default", "tuned") if profile in failovers]
    if failovers:
        out += ["## Failover", "", "`benchmarks/failover.py`: 20 writes/s through HAProxy; the writer's MariaDB is stopped "
                "(`systemctl stop`), killed (`kill -9` of mariadbd), its host stopped (container stop), or lost "
                "silently (link down, then stop). "
                "Gap = last acknowledged write before the fault to the first after. Target: median <= 3 s.", ""]
        for failover in failovers:
            out += failover_section(failover)
            for mode in ("silent", "kill"):
                image = IMAGES / f"failover-{failover['profile']}-{mode}.png"
                if timeline_plot(failover, mode, image):
                    out += [f"![{mode}, {failover['profile']} profile](img/{image.name})", ""]

    overhead = load(results, "haproxy_overhead")
    if overhead:
        out += ["## HAProxy overhead", "", f"`benchmarks/haproxy_overhead.py` ({overhead['sysbench']}), medians of "
                f"{max(run['rep'] for run in overhead['runs'])} repetitions:", "",
                "| test | threads | direct QPS | HAProxy QPS | ratio | direct p95 ms | HAProxy p95 ms | added p95 ms | "
                "conflicts (HAProxy/direct) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in overhead["summary"]:
            out.append(f"| {row['test']} | {row['threads']} | {row['direct']['qps']:.0f} | {row['haproxy']['qps']:.0f} | "
                       f"{row['qps_ratio']:.2f}x | {row['direct']['p95_ms']:.2f} | {row['haproxy']['p95_ms']:.2f} | "
                       f"{row['added_p95_ms']:+.2f} | {row['haproxy']['conflicts']}/{row['direct']['conflicts']} |")
        out += ["", "Targets: point-select >= 0.75x, read_write >= 0.90x with zero conflicts, added p95 at 1 thread "
                "<= 0.2 ms.", ""]
        if "check_timeouts" in overhead:
            repeated = [run for run in overhead["runs"] if run.get("failed_attempts")]
            out += [f"Health checks HAProxy failed by timeout during these runs (a node marked down): "
                    f"{len(overhead['check_timeouts'])}; runs repeated because an attempt failed: "
                    f"{len(repeated)} of {len(overhead['runs'])}.", ""]
            out += [f"- rep {run['rep']} {run['test']} {run['threads']} threads, {run['path']}: "
                    + "; ".join(f"`{failure}`" for failure in run["failed_attempts"]) for run in repeated]
            out += [""] if repeated else []

    notes = REPO / "benchmarks" / "NOTES.md"
    if notes.exists():
        out += [notes.read_text().strip(), ""]
    DOC.write_text("\n".join(out))
    print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
