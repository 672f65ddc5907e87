"""The SOA serial moves up with the records, and only then, across restarts too."""

from xcatpy.net.dns.serial import SerialKeeper


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_serial_is_the_time_of_the_change_and_stays_while_content_does(tmp_path):
    clock = Clock(1_700_000_000.7)
    keeper = SerialKeeper(tmp_path / "serial", clock)
    assert keeper.serial_for("aaa") == 1_700_000_000
    clock.now += 50
    assert keeper.serial_for("aaa") == 1_700_000_000
    assert keeper.serial_for("bbb") == 1_700_000_050


def test_changes_faster_than_the_clock_or_a_clock_stepping_back_still_increase(tmp_path):
    clock = Clock(1_700_000_000)
    keeper = SerialKeeper(tmp_path / "serial", clock)
    first = keeper.serial_for("a")
    assert keeper.serial_for("b") == first + 1
    assert keeper.serial_for("c") == first + 2
    clock.now -= 3600
    assert keeper.serial_for("d") == first + 3


def test_restart_keeps_the_serial_if_unchanged_and_never_goes_below_it(tmp_path):
    path = tmp_path / "state" / "dns-serial"
    clock = Clock(1_700_000_000)
    keeper = SerialKeeper(path, clock)
    for digest in "abcde":
        last = keeper.serial_for(digest)
    assert last == 1_700_000_004
    restarted = SerialKeeper(path, Clock(1_700_000_001))
    assert restarted.serial_for("e") == last
    assert SerialKeeper(path, Clock(1_700_000_001)).serial_for("f") == last + 1
    assert SerialKeeper(path, Clock(1_800_000_000)).serial_for("g") == 1_800_000_000


def test_unreadable_or_unwritable_file_falls_back_to_the_clock(tmp_path):
    bad = tmp_path / "serial"
    bad.write_text("garbage\n")
    assert SerialKeeper(bad, Clock(1_700_000_000)).serial_for("a") == 1_700_000_000
    blocked = tmp_path / "file"
    blocked.write_text("")
    keeper = SerialKeeper(blocked / "serial", Clock(1_700_000_000))   # parent is a file
    assert keeper.serial_for("a") == 1_700_000_000
    assert keeper.serial_for("b") == 1_700_000_001
    assert SerialKeeper(None, Clock(5)).serial_for("x") == 5
