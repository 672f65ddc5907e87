"""tests/bench/report.py: the benchmark report written from saved JSON files."""

import json
from pathlib import Path

import pytest

from tests.bench import report

PHASES = {"dhcp": {"p50": 0.002, "p95": 0.004, "p99": 0.005, "max": 0.006},
          "initrd": {"p50": 1.5, "p95": 2.25, "p99": 2.5, "max": 3.0}}


def storm_run(stack: str, nodes: int, wall: float, failed: int = 0, rss=80.0) -> dict:
    return {"stack": stack, "nodes": nodes, "completed": nodes - failed, "failed": failed,
            "wall": wall, "server_cpu": wall / 2, "peak_rss_mb": rss, "client_cpu": 1.0,
            "phases": PHASES, "failures": [f"n{i}: dhcp: no answer" for i in range(failed)],
            "retransmits": 3, "gbytes": 0.5}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    storm = {"bench": "bootstorm", "kernel_mb": 1.0, "initrd_mb": 4.0, "blksize": 1456,
             "spread": 0.0,
             "runs": [storm_run("xcatd", 10, 2.0), storm_run("dnsmasq", 10, 4.0),
                      storm_run("xcatd", 20, 6.0, failed=2, rss=350.0),
                      storm_run("dnsmasq", 20, 4.0)]}
    (d / "bootstorm.json").write_text(json.dumps(storm))
    report.write_json(d / "tables.json", "tables", {"nodes": 10000}, [
        report.figure("nodeadd, CLI wall", 0.3, "s", "< 2 s", True),
        report.figure("lsdef -l all nodes, CLI wall", 2.5, "s", "< 2 s", False),
        report.figure("requests/s", 1000.0, "/s", compare={"dnsmasq": 500.0}),
        report.figure("raw sqlite3 insert (floor)", 0.07, "s")])
    (d / "dhcp.json").write_text(json.dumps({"bench": "dhcp",
                                             "skipped": "needs perfdhcp (Debian package "
                                                        "kea-admin)"}))
    return d


def test_markdown_from_saved_json(results: Path, tmp_path: Path):
    out = tmp_path / "doc" / "benchmarks.md"
    text = report.write_report(results, out, None)
    assert out.read_text() == text
    # the machine, read now since there is no run.json
    assert "## Machine" in text
    assert f"| cores | {report.machine_info()['cores']} |" in text
    # a table per N; the ratio is xcatd's completion time over the C stack's
    assert "### N = 10" in text and "### N = 20" in text
    n10 = text.split("### N = 10")[1].split("### N = 20")[0]
    assert "| dnsmasq | 4.00 | 0.50x | 10 / 10 | 0 |" in n10
    assert "| xcatd | 2.00 | 1.00x |" in n10
    n20 = text.split("### N = 20")[1]
    assert "| dnsmasq | 4.00 | 1.50x | 20 / 20 | 0 |" in n20
    assert "| xcatd | 6.00 | 1.00x | 18 / 20 | 2 |" in n20
    assert "xcatd failures (2): 2 x `dhcp: no answer` (n0, n1)" in n20
    # per-phase p50 / p95 in ms, a column per stack
    assert "| initrd | 1,500 / 2,250 | 1,500 / 2,250 |" in n20
    # issue 8's targets judged at the largest N, and said so
    assert "judged at N=20" in text
    assert "| N=20: 0 failed nodes (xcatd) | 2 failed | **not met** |" in text
    assert "| N=20: completion within 1.25x of dnsmasq (aim: faster) | 6.00 s vs 4.00 s = " \
           "1.50x | **not met** |" in text
    assert "| N=20: xcatd memory under 300 MB | 350 MB | **not met** |" in text
    # a bench's figures: target, met or not, the other server with the ratio
    assert "| nodeadd, CLI wall | 0.3 | s | < 2 s | met | - |" in text
    assert "| lsdef -l all nodes, CLI wall | 2.50 | s | < 2 s | **not met** | - |" in text
    assert "| requests/s | 1,000 | /s | - | - | dnsmasq 500; ratio 2.00x |" in text
    # the skipped bench is there, with its reason, in the summary and its own section
    assert text.count("skipped: needs perfdhcp (Debian package kea-admin)") == 2
    summary = text.split("## Summary")[1].split("\n## ")[0]
    assert "| Tables (issue 2) | `bench_tables.py` | ran | - | 1 of 2 |" in summary
    assert "| Boot storm (issue 8) | `bootstorm.py` | ran | - | 0 of 3 |" in summary
    assert "![" not in text           # no plot asked for


def test_run_json_gives_machine_command_and_exit_codes(results: Path, tmp_path: Path):
    meta = {"command": "tests/bench/run_all --quick", "started": "2024-01-01T00:00:00+00:00",
            "quick": True, "machine": {"cpu": "Test CPU 9000", "cores": 64},
            "benches": {"tables": {"rc": 1, "seconds": 12.5,
                                   "argv": ["python", "tests/bench/bench_tables.py"]}}}
    (results / "run.json").write_text(json.dumps(meta))
    text = report.write_report(results, tmp_path / "b.md", None)
    assert "Command: `tests/bench/run_all --quick`" in text
    assert "| cpu | Test CPU 9000 |" in text and "| cores | 64 |" in text
    assert "**Quick mode**" in text
    assert "ran, exit 1 (its own checks failed; see its log)" in text
    assert "| 12.5 s |" in text
    assert "Run as `python tests/bench/bench_tables.py`" in text


def test_numbers():
    assert [report.num(v) for v in (None, 0.0, 0.01234, 1.5, 12.34, 1234.5, 7, float("nan"))] \
        == ["-", "0", "0.0123", "1.50", "12.3", "1,234", "7", "-"]
    assert report.times(1 / 3) == "0.33x" and report.times(None) == "-"


def tftp_record(scenario: str, server: str, mbps: float, window: int = 1, **more) -> dict:
    return {"scenario": scenario, "server": server, "clients": 100, "size": 4 << 20,
            "blksize": 1468, "window": window, "wall_s": 1.0, "mb_per_s": mbps,
            "blocks_per_s": 1000.0, "ok": 100, "failed": 0, "stalls": 0,
            "client_timeouts": 0, "median_s": 0.5, "max_s": 0.9, "server_cpu_s": 1.0,
            "us_per_block": 5.0, "client_cpu_share": 0.3, "failure_reasons": "",
            "peak_rss_mb": None, **more}


def test_tftp_records_give_ratios_and_issue_4_targets(tmp_path: Path):
    d = tmp_path / "results"
    d.mkdir()
    lock, window = "100 x 4 MB, lockstep", "100 x 4 MB, window 16"
    (d / "tftp.json").write_text(json.dumps({"bench": "tftp", "params": {}, "results": [
        tftp_record(lock, "ours", 300.0), tftp_record(lock, "tftpd-hpa", 150.0),
        tftp_record(window, "ours", 250.0, window=16, stalls=1),
        tftp_record(window, "tftpd-hpa", 150.0, window=16)]}))
    text = report.write_report(d, tmp_path / "b.md", None)
    assert f"| {lock}: >= 0.5x tftpd-hpa (aim 1.0x) | 300 vs 150 MB/s = 2.00x | met |" in text
    assert f"| {window}: >= 2.0x tftpd-hpa | 250 vs 150 MB/s = 1.67x | **not met** |" in text
    assert f"| {window}: no failed transfer, no stall | 0 failed, 1 stalls | **not met** |" \
        in text
    assert "| tftpd-hpa | 1.00 | 150 | 2.00x |" in text.split(f"### {lock}")[1]
    assert "| TFTP (issue 4) | `bench_tftp.py` | ran | - | 2 of 4 |" in text


@pytest.mark.may_skip     # matplotlib is the `bench` extra, not the `test` one
def test_plot_is_a_png_beside_the_report(results: Path, tmp_path: Path):
    pytest.importorskip("matplotlib", reason="matplotlib is the bench extra: "
                        "pip install -e '.[bench]'")
    out, png = tmp_path / "doc" / "benchmarks.md", tmp_path / "doc" / "bootstorm.png"
    text = report.write_report(results, out, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![boot-storm completion time vs N](bootstorm.png)" in text
