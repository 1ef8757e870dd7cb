"""Write docs/benchmarks.md (and its plots) from the JSON files run_all.sh leaves in a results folder.

    .venv/bin/python benchmarks/report.py RESULTS_DIR
"""

from __future__ import annotations

import json
import re
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


def transport_section(transport: dict) -> list[str]:
    lines = ["## Transport", "", f"`benchmarks/transport.py` ({transport['date']}): the same {transport['tasks']} small "
             f"tasks (a command, a stat, an unchanged copy, in turn) on {transport['hosts']} lab hosts, over the lab's SSH "
             "(as `deploy`, sudo, pipelining, ControlPersist) and over `podman exec` as root (what the lab used "
             "before), in turn, in the same run; per task = (the play with the tasks - the same play with none) / "
             f"tasks; medians of {transport['rounds']} rounds.", "",
             "| transport | play with no task s | play with the tasks s | per task ms |", "| --- | --- | --- | --- |"]
    for name, row in transport["transports"].items():
        lines.append(f"| {name} | {row['empty_median']:.2f} | {row['full_median']:.2f} | {row['per_task_ms_median']:.0f} |")
    return lines + [""]


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


def vip_failover_section(vip: dict) -> list[str]:
    settings = ", ".join(f"`{k}: {v}`" for k, v in vip["settings"].items())
    sticky = {True: ", sticky writer", False: ", no sticky writer"}.get(vip.get("sticky_writer"), "")
    version = re.search(r"\d+(?:\.\d+)+", vip["keepalived"])
    lines = ["## Virtual IP failover", "", f"`benchmarks/vip_failover.py` ({vip['date']}, keepalived "
             f"{version[0] if version else vip['keepalived']}, VRRP "
             f"version {vip['vrrp_version']}, `advert_int {vip['advert_int']}`{sticky}"
             + (f"; on top of the defaults {settings}" if settings else ", the roles' defaults") + "): "
             f"{vip['rate']:.0f} writes/s through the VIP from the machine that runs the lab; the HAProxy host that "
             "holds the VIP loses HAProxy (`pkill -KILL -x haproxy`, Debian's unit restarts it), is stopped "
             "(`podman stop`, started again afterwards) or loses its link silently (`ip link set eth0 down`, no FIN "
             "or RST, brought up afterwards). Gap = last acknowledged write before the fault to the first after; "
             "*MASTER after* = when the other host's keepalived logged it took the VIP; *return stall* = the "
             "longest pause once the lost host is back. Every acknowledged write is looked up on every Galera node.",
             "", "| mode | tries | gap min s | gap median s | gap max s | VIP moved | MASTER after, median s | "
             "return stall median s | failed writes | in doubt | lost |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in vip["summary"]:
        takeover = "-" if row["takeover_median"] is None else f"{row['takeover_median']:.2f}"
        lines.append(f"| {row['mode']} | {row['tries']} | {row['gap_min']:.2f} | {row['gap_median']:.2f} | "
                     f"{row['gap_max']:.2f} | {row['vip_moved']} of {row['tries']} | {takeover} | "
                     f"{row['return_stall_median']:.2f} | {row['failed_writes']} | "
                     f"{row['in_doubt']} ({row['in_doubt_committed']} committed) | {row['lost']} |")
    lines += ["", "Target: median gap <= 3 s in each mode, 0 lost."]
    errors = sorted({e for t in vip["tries"] for e in t["errors"]})
    if errors:
        lines += ["", "Errors the writer saw: " + "; ".join(f"`{e}`" for e in errors)]
    return lines + [""]


def overhead_section(overhead: dict) -> list[str]:
    lines = ["## HAProxy overhead", "", f"`benchmarks/haproxy_overhead.py` ({overhead.get('date', '?')}, "
             f"{overhead['sysbench']}), medians of "
             f"{max(run['rep'] for run in overhead['runs'])} repetitions; *common* is a hand-written single-writer "
             "listener (`balance first`, backups, plain TCP checks) on the same HAProxy host, in the same run:", "",
             "| test | threads | direct QPS | common QPS | collection QPS | collection vs common | collection vs direct "
             "| added p95 ms | failed attempts (collection/common) | conflicts |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in overhead["summary"]:
        lines.append(f"| {row['test']} | {row['threads']} | {row['direct']['qps']:.0f} | {row['common']['qps']:.0f} | "
                     f"{row['collection']['qps']:.0f} | {row['qps_vs_common']:.2f}x | {row['qps_vs_direct']:.2f}x | "
                     f"{row['added_p95_ms']:+.2f} | {row['collection']['failed_attempts']}/"
                     f"{row['common']['failed_attempts']} | {row['collection']['conflicts']} |")
    repeated = [run for run in overhead["runs"] if run.get("failed_attempts")]
    lines += ["", "Target: the collection's listener completes every repetition with at least the common listener's "
              "throughput.", "",
              f"Servers the collection's HAProxy marked down by a check timeout during these runs: "
              f"{len(overhead['check_timeouts'])}; runs repeated because an attempt failed: {len(repeated)} of "
              f"{len(overhead['runs'])}.", ""]
    lines += [f"- rep {run['rep']} {run['test']} {run['threads']} threads, {run['path']}: "
              + "; ".join(f"`{failure}`" for failure in run["failed_attempts"]) for run in repeated]
    return lines + ([""] if repeated else [])


def tls_section(tls: dict) -> list[str]:
    lines = ["## TLS overhead", "", f"`benchmarks/tls_overhead.py` ({tls.get('date', '?')}, {tls['sysbench']}, "
             f"PyMySQL {tls['pymysql']}), medians of {max(run['rep'] for run in tls['runs'])} repetitions of "
             f"{tls['seconds']} s through {tls['endpoint']} (the collection's listener), clients on {tls['client']}; "
             f"each test runs over TLS ({tls['cipher']}, the server's certificate checked against the lab's CA) and "
             "plain (`require_secure_transport` turned off for that leg) back to back, alternating which goes first. "
             "*connect*: 4 threads each connecting, running `SELECT 1` and closing in a loop (PyMySQL; p95 of the "
             "whole cycle); the others sysbench, connected once per thread. *TLS sessions* are counted on the nodes "
             "(`Ssl_accepts` of `Connections`) over the TLS legs and the plain legs:", "",
             "| test | threads | unit | plain | TLS | TLS/plain | p95 ms plain | p95 ms TLS | added p95 ms "
             "| TLS sessions (TLS legs / plain legs) | failed attempts (TLS/plain) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in tls["summary"]:
        on, off = row["tls"], row["plain"]
        lines.append(f"| {row['test']} | {row['threads']} | {row['unit']} | {off['rate']:,.0f} | {on['rate']:,.0f} | "
                     f"{row['rate_tls_vs_plain']:.2f}x | {off['p95_ms']:.2f} | {on['p95_ms']:.2f} | "
                     f"{row['added_p95_ms']:+.2f} | {on['tls_sessions']} of {on['sessions']} / {off['tls_sessions']} "
                     f"of {off['sessions']} | {on['failed_attempts']}/{off['failed_attempts']} |")
    return lines + [""]


def health_section(health: dict) -> list[str]:
    lines = ["## Health checks", "", f"`benchmarks/health_check.py` ({health['date']}): HTTP checks like HAProxy's "
             f"against every node's health endpoint, {health['rate']} rounds per second for {health['seconds']} s per "
             "phase, timed from the checking host (connect, request, whole answer).", "",
             "| phase | from | checks | not 200 | p50 ms | p99 ms | max ms |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in health["rows"]:
        lines.append(f"| {row['phase']} | {row['checker']} | {row['checks']} | {row['not_ok']} | {row['p50_ms']:.2f} | "
                     f"{row['p99_ms']:.2f} | {row['max_ms']:.2f} |")
    flood = health.get("flood_qps") or {}
    cpu = health["endpoint_cpu_ms_per_s"]
    lines += ["", "Targets: p99 <= 5 ms idle, <= 50 ms with the hosts saturated.", "",
              f"- sysbench flood: {sum(flood.values()):,.0f} direct point selects/s in all ("
              + ", ".join(f"{node} {rate:,.0f}" for node, rate in flood.items()) + ").",
              "- CPU stress: three busy loops on each database host (9 on the lab's 2 CPUs).",
              "- The endpoint's CPU time, one checker vs two at once: "
              + "; ".join(f"{node} {cpu['one checker'][node]:.1f} vs {cpu['two checkers'][node]:.1f} ms/s"
                          for node in cpu["one checker"])
              + f"; its connections to MariaDB with two checkers: {health['endpoint_connections']}.", ""]
    return lines


def previous_sections() -> dict:
    """The sections of the current docs/benchmarks.md by heading ('' for the part before the first), so that
    a run of some benchmarks rewrites their sections and keeps the others as they were measured."""
    sections, heading = {"": []}, ""
    if DOC.exists():
        for line in DOC.read_text().splitlines():
            if line.startswith("## "):
                heading = line
                sections[heading] = []
            sections[heading].append(line)
    return sections


def failback_section(failback: dict) -> list[str]:
    lines = ["## Writer fail-back", "", f"`benchmarks/failback.py` ({failback['date']}): two clients update "
             f"{failback['hot_rows']} hot rows through HAProxy, {failback['rate']:.0f} times per second each"
             + (f", each update in a transaction that holds the row {1000 * failback['hold_seconds']:.0f} ms"
                if failback.get("hold_seconds") else ", autocommit")
             + " (one keeps its connection, one opens a connection per write); the writer's MariaDB is stopped and "
             "started again. "
             f"Counted in the {failback['window_seconds']} s after HAProxy sees it up again:", "",
             "| try | HAProxy | stopped | moved to | deadlocks (1213) | per-write connections landed on |",
             "| --- | --- | --- | --- | --- | --- |"]
    for number, result in enumerate(failback["tries"]):
        lines.append(f"| {number // 2 + 1} | {'sticky writer' if result['sticky'] else 'first + backup'} | "
                     f"{result['victim']} | {result['moved_to']} | {result['deadlocks']} | "
                     + ", ".join(f"{node} {count}" for node, count in result["per_write_connection"]["nodes"].items())
                     + " |")
    lines += ["", "Target: 0 deadlocks with the sticky writer (against what `first` + `backup` produces in the same run).",
              ""]
    return lines


def quota_label(run: dict) -> str:
    return f"`{run['cpu_quota']}`" if run.get("cpu_quota") else "`\"\"` (no limit)"


def quota_seen(run: dict) -> str:
    """What the backup unit's cgroup had while it ran, from the sampler (None: no cgroup with the cpu controller)."""
    seen = [cpu for cpu in run["throughput"]["summary"].get("unit_cpu", []) if cpu]
    if not seen:
        return "no cpu cgroup"
    quotas = sorted({"none" if cpu["quota"] is None else f"{100 * cpu['quota']:.0f} %" for cpu in seen})
    throttled = ", ".join(f"{100 * cpu['throttled_share']:.0f} %" for cpu in seen)
    return f"{', '.join(quotas)}, throttled {throttled}"


def settings_label(run: dict) -> str:
    """The backup unit's limits a run was deployed with: the CPU quota, and the copy limits if any."""
    label = f"quota {quota_label(run)}"
    settings = run.get("settings", {})
    if settings.get("mariadb_backup_rate_limit"):
        label += f", rate limit {settings['mariadb_backup_rate_limit']} MB/s"
    if settings.get("mariadb_backup_throttle"):
        # Runs from before the rate limit existed: mariabackup's --throttle alone, the off-host copy unlimited.
        label += f", mariabackup --throttle={settings['mariadb_backup_throttle']} only"
    return label


def settings_order(run: dict) -> tuple:
    """No limit first, then the largest quota; unlimited copies before limited ones."""
    settings = run.get("settings", {})
    return (quota_order(run["cpu_quota"]), settings.get("mariadb_backup_throttle", 0),
            settings.get("mariadb_backup_rate_limit", 0))


def quota_section(runs: list[dict]) -> list[str]:
    """The writer's throughput with a full backup running, one row per setting of the backup unit's limits."""
    def numbers(values) -> str:
        return ", ".join("-" if value is None else f"{value:g}" for value in values)

    lines = ["", "By `mariadb_backup_cpu_quota` and `mariadb_backup_rate_limit` (the same windows, each setting deployed with `--set` on the same lab "
             "and dataset, `--only throughput` after the first run): *full wall* is a full backup on the idle cluster, "
             "*under load* the ones in the windows; *during backup* is the writer's tps from the backup's start to its "
             "end against the windows without; *flow control* is what galera3 sent (`wsrep_flow_control_sent`) during "
             "each with-window, then during its catch-up after the backup ended (galera3 Synced again after ... s); "
             "*unit cgroup* is the backup unit's CPU quota as its cgroup had it while it ran and the share of its "
             "periods throttled; *lost per backup* is (median tps without - tps with) x window, the transactions one "
             "backup cost the writer (median of the pairs), which does not depend on the window's length as the "
             "ratio does (a window is twice the idle full backup's wall time unless --window set it, so they differ by "
             "setting); *by phase* is the writer's tps in each phase of the backup against the windows without "
             "(copy, compress, verify, off-host).", "",
             "| settings | CPUQuotaPerSecUSec | unit cgroup | full wall s | under load s | window s | without tps | "
             "with tps | ratio | during backup | by phase | lost per backup | flow control (with windows) | "
             "catch-up messages (s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        summary = run["throughput"]["summary"]
        during = summary["by_phase"].get("backup", {}).get("ratio")
        phases = ", ".join(f"{summary['by_phase'][phase]['ratio']:.2f}" if phase in summary["by_phase"] else "-"
                           for phase in ("copy", "compress", "verify", "offhost"))
        catch_up = ", ".join(f"{'-' if m is None else m} ({'-' if t is None else f'{t:g}'})"
                             for m, t in zip(summary["fc_sent_catch_up"], summary["catch_up_seconds"]))
        # A backup that outlasts its window is measured only as far as the window reaches.
        window_cell = str(summary["window_seconds"])
        if any(wall and wall > summary["window_seconds"] for wall in summary["backup_wall_under_load"]):
            window_cell += " (shorter than the backup)"
        lost = statistics.median((summary["median_without"] - window["tps"]) * summary["window_seconds"]
                                 for window in run["throughput"]["windows"] if window["mode"] == "with")
        lines.append(f"| {settings_label(run)} | {run['unit_quota']['CPUQuotaPerSecUSec']} | {quota_seen(run)} | "
                     f"{run['backups']['full']['wall_seconds']:.1f} | {numbers(summary['backup_wall_under_load'])} | "
                     f"{window_cell} | {summary['median_without']:.1f} | {summary['median_with']:.1f} | "
                     f"**{summary['ratio']:.2f}** | {'-' if during is None else f'{during:.2f}x'} | {phases} | {lost:,.0f} | "
                     f"{numbers(summary['fc_sent_with'])} | {catch_up} |")
    return lines + [""]


def quota_order(quota: str) -> float:
    """No limit first, then the largest quota."""
    return -float("inf") if not quota else -float(quota.rstrip("%"))


def backup_section(backup: dict, quota_runs: list[dict] = ()) -> list[str]:
    gb = 1e9
    dataset, load, restore = backup["dataset"], backup["throughput"]["summary"], backup["restore"]
    lines = ["## Backups", "", f"`benchmarks/backup_restore.py` ({backup['date']}, MariaDB {backup['mariadb']}, "
             f"{backup['sysbench']}): {dataset['tables']} sysbench tables x {dataset['table_size']:,} rows, "
             f"{dataset['innodb_bytes'] / gb:.2f} GB of InnoDB data and indexes ({dataset['datadir_bytes'] / gb:.2f} GB "
             f"datadir) on {backup['backup_node']}, the backup node; the backup host (off-host copy) is the client "
             "host. Each backup is `systemctl start dbstack-mariadb-backup@KIND.service` as its timer would run it; "
             "*wall* is the whole unit: mariabackup's copy (node desynced), zstd, the proof by restore (*verify*: "
             "unpack and prepare the chain, a scratch server, CHECK TABLE of every table) and the off-host copy. "
             f"The first incremental follows {backup['backups']['transactions_between']:,} oltp_write_only "
             "transactions; the second is the one of the restore below, under 20 writes/s.", "",
             "| backup | wall s | copy s | compress s | verify s | off-host s | data GB | stored GB | data / stored |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = [("full", backup["backups"]["full"]), ("incremental", backup["backups"]["incremental"]),
            ("incremental (restore's)", restore["incremental"]),
            ("full, after the restore", restore["new_full_backup"])]
    for label, row in rows:
        offhost = "-" if row["offhost_seconds"] is None else f"{row['offhost_seconds']:.1f}"
        lines.append(f"| {label} | {row['wall_seconds']:.1f} | {row['copy_seconds']} | {row['compress_seconds']:.1f} | "
                     f"{row['verify_seconds']:.1f} | {offhost} | {row['data_bytes'] / gb:.3f} | "
                     f"{row['bytes'] / gb:.3f} | {row['data_bytes'] / max(1, row['bytes']):.1f}x |")
    lines += ["", f"Writer throughput while a full backup runs (mariadb_backup_cpu_quota {quota_label(backup)}): sysbench "
              f"{load['test']}, {load['threads']} threads "
              f"through haproxy1 (writes to galera1), windows of {load['window_seconds']} s, one without and one "
              "with a full backup started on the backup node as the window starts, alternating which goes first, each "
              "window started once galera3 was Synced with an empty receive queue; "
              "*CPU busy* is the whole machine's, *flow control* the messages galera3 sent in the window:", "",
              "| pair | backup | tps | p95 ms | CPU busy | flow control | backup wall s |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for window in backup["throughput"]["windows"]:
        wall = f"{window['backup']['wall_seconds']:.0f}" if window.get("backup") else "-"
        sent = window.get("flow_control", {}).get("fc_sent")
        lines.append(f"| {window['pair']} | {window['mode']} | {window['tps']:.1f} | {window['p95_ms']:.1f} | "
                     f"{100 * window['cpu_busy']:.0f} % | {'-' if sent is None else sent} | {wall} |")
    phases = ", ".join(f"{phase} {value['tps']:.0f} tps ({value['ratio']:.2f}x)"
                       for phase, value in load["by_phase"].items())
    lines += ["", f"Ratio of the medians, with / without: **{load['ratio']:.2f}** ({load['median_with']:.1f} / "
              f"{load['median_without']:.1f} tps); target >= 0.9. By phase of the backup (medians of sysbench's "
              f"per-second reports, against the windows without): {phases}."]
    if quota_runs:
        lines += quota_section(sorted([backup, *quota_runs], key=settings_order))
    else:
        lines.append("")
    nodes = restore["nodes"]
    missing = sum(node["missing_acknowledged"] for node in nodes.values())
    extra = sorted({node["never_acknowledged"] for node in nodes.values()})
    lines += [f"Point-in-time restore: 20 acknowledged INSERTs/s through haproxy1, an incremental meanwhile, "
              f"the writer's table dropped through HAProxy; `dbstack-mariadb-backup binlog-find 'DROP TABLE'` gave "
              f"GTID {restore['gtid']}, and `playbooks/restore.yml -e mariadb_backup_restore_stop_gtid="
              f"{restore['gtid']} -e mariadb_backup_restore_confirm=true -e mariadb_backup_restore_new_full_backup"
              f"=false` took **{restore['restore_seconds']:.1f} s** (HAProxy passed connections "
              f"{restore['settle_seconds']:.1f} s after it returned); the new full backup it would take next, run "
              f"apart, {restore['new_full_backup']['wall_seconds']:.1f} s. Recovery point: of "
              f"{restore['acknowledged']} writes acknowledged before the drop, **{missing} missing** on the three "
              f"nodes; rows present that were never acknowledged: {', '.join(map(str, extra))} "
              f"({restore['in_doubt']} writes were in doubt).", ""]
    return lines


def reading_section() -> list[str]:
    """Where the reasoning about each section's figures lives: the docs, not this generated page."""
    return ["## Reading these figures", "",
            "- Deploy speed: what keeps a re-run short, [performance.md](performance.md#deploy-speed).",
            "- Failover: where the gap goes and the 13.6 s case, [failover.md](failover.md#measured-on-the-lab); "
            "the fast profile's trade-off, [failover.md](failover.md#the-defaults-and-the-fast-profile).",
            "- Virtual IP failover: VRRP against the client's TCP retransmissions, "
            "[high_availability.md](high_availability.md#what-losing-the-vips-holder-costs).",
            "- HAProxy overhead: segments, CPU, what was tried and why HAProxy keeps its defaults, "
            "[performance.md](performance.md#haproxy-overhead).",
            "- TLS overhead: keeping connections open, [tls.md](tls.md#clients).",
            "- Health checks: a saturated host, [performance.md](performance.md#health-checks-on-a-saturated-host) "
            "and [failover.md](failover.md#when-the-hosts-themselves-stall).",
            "- Writer fail-back: conflicts on hot rows, [failover.md](failover.md#the-writer-does-not-move-back).",
            "- Backups: [backups.md](backups.md#sizes-and-times) and what a backup costs the writer, "
            "[backups.md](backups.md#what-a-backup-costs-the-writer).", ""]


def main() -> int:
    results = Path(sys.argv[1])
    kept = previous_sections()
    meta = load(results, "meta")
    if meta:
        out = ["# Benchmarks", "",
               "Written by `benchmarks/run_all.sh` (via `benchmarks/report.py`); do not edit by hand.", "",
               f"- date: {meta['date']}",
               f"- machine: {meta['machine']}",
               f"- versions: {meta['versions']}", ""]
    else:
        out = kept[""]

    deploy = load(results, "deploy_speed")
    if not deploy:
        out += kept.get("## Deploy speed", [])
    transport = load(results, "transport")
    if transport:
        out += transport_section(transport)
    else:
        out += kept.get("## Transport", [])
    if deploy:
        out += ["## Deploy speed", "", "`benchmarks/deploy_speed.py`: `playbooks/site.yml` on the fresh hosts of `make lab` "
                "(3 Galera, 2 HAProxy behind a virtual IP, app with the smoke app), images cached, then an idempotent re-run.", "",
                "| try | lab up s | fresh s | changed | re-run s | changed |", "| --- | --- | --- | --- | --- | --- |"]
        for number, t in enumerate(deploy["tries"], 1):
            out.append(f"| {number} | {t['lab_up_seconds']} | {t['fresh_seconds']} | {t['fresh_changed']} | "
                       f"{t['rerun_seconds']} | {t['rerun_changed']} |")
        out += ["", "Targets: fresh <= 120 s, re-run <= 15 s with 0 changed.", ""]

    # failover_PROFILE[_PART].json: runs of one profile may be split by mode; merge them.
    failovers = {}
    for path in sorted(results.glob("failover_*.json")):
        part = json.loads(path.read_text())
        merged = failovers.setdefault(part["profile"], {**part, "summary": [], "tries": []})
        merged["summary"] += part["summary"]
        merged["tries"] += part["tries"]
    failovers = [failovers[profile] for profile in ("default", "tuned") if profile in failovers]
    if not failovers:
        out += kept.get("## Failover", [])
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

    vip = load(results, "vip_failover")
    out += vip_failover_section(vip) if vip else kept.get("## Virtual IP failover", [])
    overhead = load(results, "haproxy_overhead")
    out += overhead_section(overhead) if overhead else kept.get("## HAProxy overhead", [])
    tls = load(results, "tls_overhead")
    out += tls_section(tls) if tls else kept.get("## TLS overhead", [])
    health = load(results, "health_check")
    out += health_section(health) if health else kept.get("## Health checks", [])
    failback = load(results, "failback")
    out += failback_section(failback) if failback else kept.get("## Writer fail-back", [])
    backup = load(results, "backup_restore")
    # backup_throughput_*.json: backup_restore.py --only throughput with other role settings on the same lab.
    quota_runs = [json.loads(path.read_text()) for path in sorted(results.glob("backup_throughput_*.json"))]
    out += backup_section(backup, quota_runs) if backup else kept.get("## Backups", [])

    out += reading_section()
    DOC.write_text("\n".join(out))
    print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
