"""site.vmtimeout and site.vmmigratetimeout, as xcatpy.virt.timeouts reads and applies them."""

from xcatpy.virt.timeouts import HostTimeouts, apply, site_timeouts
from xcatpy.virt.xl import XlHypervisor


class Site:
    def __init__(self, **values):
        self.values = values

    def site(self, key):
        return self.values.get(key)


class Shell:
    connect = None

    def set_connect_timeout(self, seconds):
        self.connect = seconds


def test_defaults_and_junk_fall_back():
    assert site_timeouts(Site()) == HostTimeouts(60.0, 3600.0)
    for junk in ("", "0", "-5", "soon", "inf", "nan"):
        assert site_timeouts(Site(vmtimeout=junk, vmmigratetimeout=junk)) == HostTimeouts()


def test_applied_to_a_driver_and_its_shell():
    shell = Shell()
    driver = XlHypervisor(shell, None)
    apply(site_timeouts(Site(vmtimeout="2.5", vmmigratetimeout="30")), driver, shell)
    assert (driver.command_timeout, driver.migrate_timeout, shell.connect) == (2.5, 30.0, 2.5)
    # Longer limits of their own stay; raised if the command limit is longer still.
    assert (driver.create_timeout, driver.shutdown_timeout) == (300.0, 180.0)
    apply(HostTimeouts(command=400.0), driver, shell)
    assert (driver.create_timeout, driver.shutdown_timeout, shell.connect) == (400.0, 400.0,
                                                                               10.0)
    assert XlHypervisor.command_timeout == 60.0      # the class keeps its defaults
