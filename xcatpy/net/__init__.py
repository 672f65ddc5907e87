"""Addresses, names and the services that publish them: DHCP, DNS, /etc/hosts."""
