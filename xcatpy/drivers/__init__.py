"""Drivers for the things xcatd manages: BMCs (power, boot device) and hypervisors."""
