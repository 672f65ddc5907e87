"""The benchmarks' JSON files and the one report made from them.

Every bench run with `--json FILE` writes

    {"bench": "<short name>", "params": {<the arguments used>},
     "figures": [{"name": ..., "value": <number>, "unit": "ms|s|/s|MB|...",
                  "target": "<the issue's target, as text>" or null,
                  "met": true/false/null, "compare": {"<other server>": <number>}}, ...]}

(`figure()` and `write_json()` below make them), except bootstorm.py, which writes its runs
(one per node count and stack), and bench_tftp.py, which writes its results. run_all puts
one file per bench in a results directory, a stub `{"bench": ..., "skipped": "<why>"}` or
`{"bench": ..., "crashed": "<why>"}` for a bench that did not run, and `run.json` (the
machine, the command, each bench's exit code and time). write_report() turns that directory
into the Markdown report and the boot-storm plot; `run_all --report-only DIR` re-runs it.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

# -- writing: used by the benches -------------------------------------------------------


def figure(name: str, value: float, unit: str, target: str | None = None,
           met: bool | None = None, compare: dict[str, float] | None = None) -> dict:
    """One measured figure; `target` is the issue's target as text, `met` whether this
    value meets it, `compare` the same figure for the other servers of the same run."""
    entry = {"name": name, "value": value, "unit": unit, "target": target, "met": met}
    if compare:
        entry["compare"] = compare
    return entry


def params_of(args: argparse.Namespace) -> dict:
    """The bench's arguments, as JSON can carry them (the --json path itself left out)."""
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
            for k, v in vars(args).items() if k != "json"}


def write_json(path: Path | str | None, bench: str, params: dict, figures: list[dict]) -> None:
    if path:
        Path(path).write_text(json.dumps({"bench": bench, "params": params,
                                          "figures": figures}, indent=1) + "\n")


# -- the machine ----------------------------------------------------------------------------


def _first_line(argv: list[str], pattern: str) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(pattern, p.stdout + p.stderr)
    return m.group(1) if m else None


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """What the figures depend on: CPU, cores, memory, kernel, OS and the servers' versions."""
    cpu, virtual = platform.processor() or "unknown", False
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        virtual = bool(re.search(r"^flags\s*:.*\bhypervisor\b", text, re.M))
    except OSError:
        pass
    memory = None
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory = f"{int(m.group(1)) / 1024 ** 2:.1f} GiB" if m else None
    except OSError:
        pass
    try:
        debian = Path("/etc/debian_version").read_text().strip()
    except OSError:
        debian = None
    return {
        "cpu": cpu + (" (virtual machine)" if virtual else ""),
        "cores": os.cpu_count(),
        "memory": memory,
        "kernel": platform.release(),
        "debian": debian,
        "python": platform.python_version(),
        "twisted": _dist_version("twisted"),
        "dnsmasq": _first_line(["dnsmasq", "--version"], r"version (\S+)"),
        "nginx": _first_line(["nginx", "-v"], r"nginx/(\S+)"),
        "tftpd-hpa": _first_line(["in.tftpd", "-V"], r"tftp-hpa (\S+?),?\s"),
        "perfdhcp (Kea)": _first_line(["perfdhcp", "-v"], r"VERSION: (\S+)"),
    }


# -- reading --------------------------------------------------------------------------------

# Report order, with the heading each bench gets and the script behind it.
BENCHES = {
    "bootstorm": ("Boot storm (issue 8)", "bootstorm.py"),
    "tables": ("Tables (issue 2)", "bench_tables.py"),
    "api": ("API round trip (issue 3)", "bench_api.py"),
    "tftp": ("TFTP (issue 4)", "bench_tftp.py"),
    "boot": ("nodeset and boot configs (issue 4)", "bench_boot.py"),
    "templates": ("Answer-file rendering (issue 4)", "bench_templates.py"),
    "dhcp": ("DHCP (issue 5)", "bench_dhcp.py"),
    "dns": ("DNS (issue 5)", "bench_dns.py"),
    "rpower": ("rpower fan-out (issue 6)", "bench_rpower.py"),
    "revacuate": ("revacuate planning and evacuation (issue 7)", "bench_revacuate.py"),
    "load": ("Connections under load (issue 9)", "bench_load.py"),
}


# What the issues asked of each bench, in their words (shortened).
ISSUE_TARGETS = {
    "bootstorm": "N=500 nodes with 0 failures; xcatd's completion time within 1.25x of the C "
                 "stack's (aim: faster); server memory under 300 MB at N=500.",
    "tables": "10,000 nodes with ~8 attributes: each command under 2 s on this machine class, "
              "and within 20x the raw-SQLite floor.",
    "api": "median wall time of `nodels node01` through the daemon (interpreter start "
           "included) under 150 ms; requests/s for 100 concurrent clients printed.",
    "tftp": "100 clients x 4 MB at blksize 1468: lockstep >= 0.5x tftpd-hpa (aim 1.0x), "
            "windowsize 16 >= 2x tftpd-hpa; 500 x 40 KB; no stalls, no failed transfer.",
    "boot": "`nodeset` on 10,000 nodes must not write 10,000 files (no numeric target for "
            "the config storm).",
    "templates": "no numeric target (issue 4 asked for the rendering path, not a rate).",
    "dhcp": "DORA/s from many simulated clients beside dnsmasq in the same run; no numeric "
            "target.",
    "dns": "no benchmark target in issue 5 (makedns and query figures are reported).",
    "rpower": "`rpower stat` over 1000 BMCs with 100 unreachable: every node reported, under "
              "5 s plus one timeout (the reference probe's 9-10 s is the figure to beat).",
    "revacuate": "planning 1000 guests over 100 hosts under 1 s with zero overcommit; a "
                 "simulated evacuation of 200 guests printing wall time and guests moved.",
    "load": "1,000 concurrent API connections, half idle or slow, while commands keep "
            "answering; file descriptors and memory bounded; CPU idle after a port scan.",
}


def load_results(results_dir: Path) -> tuple[dict, list[dict]]:
    """(run.json or {}, the benches' files in report order)."""
    results_dir = Path(results_dir)
    meta_path = results_dir / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    found = []
    for path in sorted(results_dir.glob("*.json")):
        if path.name == "run.json":
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError as e:
            data = {"bench": path.stem, "crashed": f"unreadable {path.name}: {e}"}
        data.setdefault("bench", path.stem)
        found.append(data)
    order = list(BENCHES)
    found.sort(key=lambda d: (order.index(d["bench"]) if d["bench"] in order else len(order),
                              d["bench"]))
    return meta, found


# -- formatting -----------------------------------------------------------------------------


def num(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if value != value:          # NaN: a percentile of no values (no node completed)
        return "-"
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 100:
        return f"{value:,.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def met_text(met) -> str:
    return "-" if met is None else ("met" if met else "**not met**")


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def status_of(data: dict, meta: dict) -> str:
    run = meta.get("benches", {}).get(data["bench"], {})
    if "skipped" in data:
        return f"skipped: {data['skipped']}"
    if "crashed" in data:
        return f"**crashed**: {data['crashed']}"
    rc = run.get("rc")
    if rc:
        return f"ran, exit {rc} (its own checks failed; see its log)"
    return "ran"


def targets_count(data: dict) -> str:
    judged = [f["met"] for f in data.get("figures", []) if f.get("met") is not None]
    if data.get("bench") == "bootstorm":
        judged = [m for _, _, m in storm_targets(data)[1] if m is not None]
    if data.get("bench") == "tftp":
        judged = [m for _, _, m in tftp_targets(data) if m is not None]
    if not judged:
        return "-"
    return f"{sum(judged)} of {len(judged)}"


# -- the boot storm -------------------------------------------------------------------------

STORM_TARGET_N = 500
RATIO_TARGET = 1.25
MEMORY_TARGET_MB = 300


def storm_by_n(data: dict) -> dict[int, dict[str, dict]]:
    by_n: dict[int, dict[str, dict]] = {}
    for run in data.get("runs", []):
        by_n.setdefault(run["nodes"], {})[run["stack"]] = run
    return dict(sorted(by_n.items()))


def storm_targets(data: dict) -> tuple[int | None, list[tuple[str, str, bool | None]]]:
    """Issue 8's targets, judged at N=500 (or the largest N run, said so)."""
    by_n = storm_by_n(data)
    if not by_n:
        return None, []
    n = STORM_TARGET_N if STORM_TARGET_N in by_n else max(by_n)
    runs = by_n[n]
    rows = []
    ours = runs.get("xcatd")
    if ours is None:
        return n, [("xcatd ran", "no xcatd run", False)]
    rows.append((f"N={n}: 0 failed nodes (xcatd)", f"{ours['failed']} failed",
                 ours["failed"] == 0))
    for stack, run in runs.items():
        if stack == "xcatd":
            continue
        ratio = ours["wall"] / run["wall"] if run.get("wall") else None
        rows.append((f"N={n}: completion within {RATIO_TARGET}x of {stack} (aim: faster)",
                     f"{num(ours['wall'])} s vs {num(run['wall'])} s = {times(ratio)}",
                     None if ratio is None else ratio <= RATIO_TARGET))
    rss = ours.get("peak_rss_mb")
    rows.append((f"N={n}: xcatd memory under {MEMORY_TARGET_MB} MB",
                 "unknown" if rss is None else f"{num(float(rss))} MB",
                 None if rss is None else rss < MEMORY_TARGET_MB))
    return n, rows


def failure_summary(failures: list[str], most: int = 3) -> str:
    """'n0001: initrd: short read' lines grouped by what happened, most frequent first."""
    why: dict[str, list[str]] = {}
    for line in failures:
        node, sep, what = line.partition(": ")
        why.setdefault(what if sep else line, []).append(node if sep else "")
    groups = sorted(why.items(), key=lambda kv: -len(kv[1]))
    parts = []
    for what, nodes in groups[:most]:
        shown = ", ".join(n for n in nodes[:3] if n) + (", ..." if len(nodes) > 3 else "")
        text = what if len(what) <= 160 else what[:157] + "..."
        parts.append(f"{len(nodes)} x `{text}`" + (f" ({shown})" if shown else ""))
    if len(groups) > most:
        parts.append(f"and {len(groups) - most} other kinds")
    return "; ".join(parts)


def storm_section(data: dict, plot_name: str | None) -> list[str]:
    out = [f"Kernel {data.get('kernel_mb', 0):g} MB, initrd {data.get('initrd_mb', 0):g} MB, "
           f"TFTP blksize {data.get('blksize', '-')}, power-on spread "
           f"{num(data.get('spread'))} s. Completion time is from the first node's start to "
           "the last node's end; the ratio is xcatd's completion time over the stack's "
           "(under 1 means xcatd was faster). Stacks: `dnsmasq` = dnsmasq DHCP + TFTP with "
           "nginx; `tftpd-hpa` = dnsmasq DHCP, tftpd-hpa, nginx.", ""]
    n, rows = storm_targets(data)
    if rows:
        note = "" if n == STORM_TARGET_N else (
            f" (judged at N={n}, the largest run: the issue states them for "
            f"N={STORM_TARGET_N})")
        out += [f"Targets (issue 8){note}:", ""]
        out += table(["target", "value", "met"], [[t, v, met_text(m)] for t, v, m in rows],
                     "llr")
        out.append("")
    for count, runs in storm_by_n(data).items():
        ours = runs.get("xcatd")
        out += [f"### N = {count}", ""]
        rows = []
        for stack, run in runs.items():
            ratio = (ours["wall"] / run["wall"] if ours is not None and run.get("wall")
                     else None)
            rss = run.get("peak_rss_mb")
            rows.append([stack, num(run["wall"]), times(ratio),
                         f"{run['completed']} / {run['nodes']}", num(run["failed"]),
                         num(run.get("retransmits")), num(run.get("server_cpu")),
                         "unknown" if rss is None else num(float(rss)),
                         num(run.get("client_cpu"))])
        out += table(["stack", "completion (s)", "xcatd / stack", "completed", "failed",
                      "retransmits", "server CPU (s)", "peak memory (MB)", "client CPU (s)"],
                     rows)
        phases: list[str] = []
        for run in runs.values():
            phases += [p for p in run.get("phases", {}) if p not in phases]
        if phases:
            out += ["", "Per-phase latency, p50 / p95 (ms):", ""]
            prow = []
            for phase in phases:
                row = [phase]
                for run in runs.values():
                    q = run.get("phases", {}).get(phase)
                    row.append(f"{num(q['p50'] * 1000)} / {num(q['p95'] * 1000)}" if q
                               else "-")
                prow.append(row)
            out += table(["phase", *runs], prow)
        for stack, run in runs.items():
            failures = run.get("failures") or []
            if failures:
                out += ["", f"{stack} failures ({len(failures)}): " + failure_summary(failures)]
        out.append("")
    if plot_name:
        out += [f"![boot-storm completion time vs N]({plot_name})", ""]
    return out


def plot_bootstorm(data: dict, out_png: Path) -> None:
    """Completion time vs N, one line per stack (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[int, float, int]]] = {}
    for count, runs in storm_by_n(data).items():
        for stack, run in runs.items():
            lines.setdefault(stack, []).append((count, run["wall"], run["failed"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for stack, points in lines.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=stack)
        for count, wall, failed in points:
            if failed:
                ax.annotate(f"{failed} failed", (count, wall), textcoords="offset points",
                            xytext=(4, 4), fontsize=8, color="red")
    ax.set_xlabel("nodes booting at once (N)")
    ax.set_ylabel("completion time (s)")
    ax.set_title(f"Boot storm: kernel {data.get('kernel_mb', 0):g} MB + initrd "
                 f"{data.get('initrd_mb', 0):g} MB per node")
    ax.set_xticks(sorted({p[0] for points in lines.values() for p in points}))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, format="png")
    plt.close(fig)


# -- the other benches ----------------------------------------------------------------------


def figures_section(data: dict) -> list[str]:
    rows = []
    for f in data.get("figures", []):
        compare = f.get("compare") or {}
        parts = []
        for other, value in compare.items():
            ratio = (f"; ratio {times(f['value'] / value)}"
                     if isinstance(value, (int, float)) and value and
                     isinstance(f.get("value"), (int, float)) else "")
            parts.append(f"{other} {num(value)}{ratio}")
        rows.append([f["name"], num(f.get("value")), f.get("unit") or "",
                     f.get("target") or "-", met_text(f.get("met")),
                     "; ".join(parts) or "-"])
    if not rows:
        return ["(no figures)", ""]
    return table(["figure", "value", "unit", "target", "met", "compared (same run)"], rows,
                 "lrllll") + [""]


def _flatten(entry: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


def tftp_targets(data: dict) -> list[tuple[str, str, bool | None]]:
    """Issue 4's targets from bench_tftp.py's records: ours with no failed transfer and no
    stall; on the 4 MB file, >= 0.5x tftpd-hpa's throughput in lockstep, >= 2x with a
    window (tftpd-hpa ignores windowsize and runs lockstep)."""
    records = [r for r in data.get("results", []) if isinstance(r, dict)]
    by = {(r.get("scenario"), r.get("server")): r for r in records}
    rows = []
    for r in records:
        if r.get("server") != "ours":
            continue
        name = r.get("scenario")
        rows.append((f"{name}: no failed transfer, no stall",
                     f"{r.get('failed')} failed, {r.get('stalls')} stalls",
                     not r.get("failed") and not r.get("stalls")))
        hpa = by.get((name, "tftpd-hpa"))
        if hpa and hpa.get("mb_per_s") and (r.get("size") or 0) >= 1 << 20:
            need = 0.5 if (r.get("window") or 1) == 1 else 2.0
            ratio = (r.get("mb_per_s") or 0) / hpa["mb_per_s"]
            rows.append((f"{name}: >= {need}x tftpd-hpa" + (" (aim 1.0x)" if need < 1 else ""),
                         f"{num(r.get('mb_per_s'))} vs {num(hpa['mb_per_s'])} MB/s = "
                         f"{times(ratio)}", ratio >= need))
    return rows


TFTP_COLUMNS = [("server", "server"), ("wall_s", "wall (s)"), ("mb_per_s", "MB/s"),
                ("ratio", "ours / server"), ("blocks_per_s", "blocks/s"), ("ok", "ok"),
                ("failed", "failed"), ("stalls", "stalls"), ("median_s", "median (s)"),
                ("max_s", "max (s)"), ("server_cpu_s", "server CPU (s)"),
                ("us_per_block", "CPU/block (us)"), ("peak_rss_mb", "peak memory (MB)")]


def tftp_section(data: dict) -> list[str]:
    records = [r for r in data.get("results", []) if isinstance(r, dict)]
    if not records or not all("scenario" in r and "server" in r for r in records):
        return results_section(data)
    out = []
    rows = tftp_targets(data)
    if rows:
        out += ["Targets (issue 4):", ""]
        out += table(["target", "value", "met"], [[t, v, met_text(m)] for t, v, m in rows],
                     "llr") + [""]
    scenarios: dict[str, list[dict]] = {}
    for r in records:
        scenarios.setdefault(r["scenario"], []).append(r)
    for name, runs in scenarios.items():
        ours = next((r for r in runs if r["server"] == "ours"), None)
        out += [f"### {name}", ""]
        body = []
        for r in runs:
            theirs = r.get("mb_per_s")
            ratio = (ours["mb_per_s"] / theirs if ours and theirs and ours.get("mb_per_s")
                     is not None else None)
            body.append([times(ratio) if key == "ratio" else num(r.get(key))
                         for key, _ in TFTP_COLUMNS])
        out += table([title for _, title in TFTP_COLUMNS], body)
        for r in runs:
            if r.get("failure_reasons"):
                out += ["", f"{r['server']} failures: {r['failure_reasons']}"]
        out.append("")
    return out


def results_section(data: dict) -> list[str]:
    """A bench that writes a list of result records (bench_tftp.py): one row each."""
    flat = [_flatten(r) for r in data.get("results", []) if isinstance(r, dict)]
    if not flat:
        return ["(no results)", ""]
    columns: list[str] = []
    for r in flat:
        columns += [k for k in r if k not in columns]
    return table(columns, [[num(r.get(c)) for c in columns] for r in flat],
                 "l" * min(2, len(columns)) + "r" * max(0, len(columns) - 2)) + [""]


def params_line(data: dict) -> list[str]:
    params = data.get("params")
    if not params:
        return []
    return ["Arguments: " + ", ".join(f"`{k}={v}`" for k, v in params.items()), ""]


# -- the report -----------------------------------------------------------------------------


def write_report(results_dir: Path | str, out_md: Path | str,
                 out_png: Path | str | None) -> str:
    """Write the Markdown report of the results in `results_dir` to `out_md`, and the
    boot-storm plot to `out_png` (None: no plot). Returns the Markdown."""
    results_dir, out_md = Path(results_dir), Path(out_md)
    meta, results = load_results(results_dir)
    storm = next((d for d in results if d["bench"] == "bootstorm" and d.get("runs")), None)
    plot_name = None
    if storm is not None and out_png is not None:
        plot_bootstorm(storm, Path(out_png))
        plot_name = os.path.relpath(Path(out_png).resolve(), out_md.resolve().parent)

    machine = meta.get("machine")
    machine_note = ""
    if not machine:
        machine = machine_info()
        machine_note = " (read when the report was written, not when the benchmarks ran)"
    lines = ["# xcatpy benchmarks", ""]
    if meta.get("command"):
        lines += [f"Command: `{meta['command']}`", ""]
    when = meta.get("started") or datetime.datetime.now().astimezone().isoformat(
        timespec="seconds")
    lines.append(f"Date: {when}" + (f" to {meta['finished']}" if meta.get("finished") else ""))
    if meta.get("commit"):
        lines += ["", f"xcatpy commit: {meta['commit']}"]
    if meta.get("seconds"):
        lines += ["", f"Total time: {meta['seconds'] / 60:.1f} min"]
    if meta.get("quick"):
        lines += ["", "**Quick mode**: every bench ran at a reduced size for smoke-testing; "
                  "the targets are stated for the issues' sizes, so the met/not met column "
                  "only says how these small runs compare with them."]
    lines += ["", f"## Machine{machine_note}", ""]
    lines += table(["", "value"], [[k, v if v is not None else "not found"]
                                   for k, v in machine.items()], "ll")
    lines += ["", "## Summary", ""]
    rows = []
    for data in results:
        run = meta.get("benches", {}).get(data["bench"], {})
        title, script = BENCHES.get(data["bench"], (data["bench"], "?"))
        took = run.get("seconds")
        rows.append([title, f"`{script}`", status_of(data, meta),
                     f"{took:.1f} s" if isinstance(took, (int, float)) else "-",
                     targets_count(data)])
    lines += table(["bench", "script", "status", "time", "targets met"], rows, "lllrr")
    lines.append("")
    for data in results:
        title, script = BENCHES.get(data["bench"], (data["bench"], "?"))
        lines += [f"## {title}", "", f"`tests/bench/{script}`: {status_of(data, meta)}", ""]
        if data["bench"] in ISSUE_TARGETS:
            lines += [f"Asked for: {ISSUE_TARGETS[data['bench']]}", ""]
        argv = meta.get("benches", {}).get(data["bench"], {}).get("argv")
        if argv:
            lines += ["Run as `" + " ".join(argv) + "`", ""]
        if "skipped" in data or "crashed" in data:
            continue
        if data["bench"] == "bootstorm":
            lines += storm_section(data, plot_name)
            continue
        if not argv:
            lines += params_line(data)
        if "figures" in data:
            lines += figures_section(data)
        if "results" in data:
            lines += (tftp_section if data["bench"] == "tftp" else results_section)(data)
    text = "\n".join(lines).rstrip() + "\n"
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(text)
    return text
