"""CPU time and peak memory of a server and everything it forks, for the benchmarks.

CPU: the processes are put in a cgroup of their own (v1 cpuacct, else v2) when the machine
allows, so children that come and go (tftpd-hpa forks one per transfer) are counted;
without cgroups, /proc/PID/stat of the process with its reaped children.

Memory: the peak of the group's summed proportional set size (Pss, from
/proc/PID/smaps_rollup), sampled every 100 ms by a thread. Pss splits each shared page
among the processes sharing it, so a server that forks a child per transfer (tftpd-hpa) is
not counted once per child for the same pages, and one process's Pss is its own memory.
Page cache is not counted: the files every stack serves are cached alike.
"""

import os
import threading
import time
from pathlib import Path

SAMPLE_EVERY = 0.1


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


class ProcessUsage:
    """One server's account; attach() every process that is the server's own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path: Path | None = None
        self.v2 = False
        self.roots: list[int] = []
        self._peak_kb = 0
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None
        label = f"bench-{os.getpid()}-{name}"
        for base, v2 in ((Path("/sys/fs/cgroup/cpuacct"), False), (Path("/sys/fs/cgroup"), True)):
            marker = base / ("cgroup.controllers" if v2 else "cpuacct.usage")
            if not marker.exists():
                continue
            try:
                (base / label).mkdir()
            except OSError:
                continue
            self.path, self.v2 = base / label, v2
            break

    @property
    def how(self) -> str:
        if self.path is None:
            return "/proc/PID/stat incl. reaped children"
        return "cgroup v2 cpu.stat" if self.v2 else "cgroup v1 cpuacct.usage"

    def attach(self, pid: int) -> None:
        self.roots.append(pid)
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(pid))
        if self._sampler is None:
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()

    def pids(self) -> list[int]:
        if self.path is not None:
            try:
                return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return []
        found, todo = [], list(self.roots)
        while todo:
            pid = todo.pop()
            if os.path.exists(f"/proc/{pid}"):
                found.append(pid)
                todo += _children(pid)
        return found

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self._peak_kb = max(self._peak_kb, self._resident_kb())

    def _resident_kb(self) -> int:
        return sum(_pss_kb(pid) for pid in self.pids())

    def cpu_seconds(self) -> float:
        if self.path is not None:
            if self.v2:
                for line in (self.path / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
                return 0.0
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        total = 0
        for pid in self.roots:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15])
        return total / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float | None:
        self._peak_kb = max(self._peak_kb, self._resident_kb())
        return self._peak_kb / 1024 if self._peak_kb else None

    def remove(self) -> None:
        """Stop sampling and delete the cgroup once its processes have exited."""
        self._stop.set()
        if self.path is None:
            return
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
