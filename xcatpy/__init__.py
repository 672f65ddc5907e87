"""xcatpy: cluster provisioning with xCAT's commands and tables on one Twisted daemon."""

__version__ = "0.1.0"
