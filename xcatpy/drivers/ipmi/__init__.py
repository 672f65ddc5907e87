"""The `ipmi` power driver (nodehm.mgt=ipmi): BMCs over IPMI 2.0 LAN with pyghmi.

credentials: ipmi table, passwd table and site settings. flows: the IPMI requests behind
rpower and rsetboot and their wording. sessions: pyghmi adapted to one IO thread.
engine: that thread, with deadlines and concurrency limits. driver: the PowerDriver.
"""

from xcatpy.drivers import power
from xcatpy.drivers.ipmi.driver import IpmiPowerDriver

power.register("ipmi", IpmiPowerDriver)

__all__ = ["IpmiPowerDriver"]
