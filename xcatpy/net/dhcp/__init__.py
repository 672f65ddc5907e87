"""The embedded DHCPv4 service (see share/doc/dhcp.md).

packet      the wire format: bytes <-> DhcpPacket
bootselect  which boot program or URL a client gets (option 93, iPXE, noderes.netboot)
view        the tables it answers from, as one in-memory snapshot
leases      the dynamic pool (networks.dynamicrange) and its dhcplease rows
responder   RFC 2131's server rules: request + link -> reply and destination
ifaces      site.dhcpinterfaces, interface addresses, the per-interface sockets
server      the protocol, the snapshot refresh, lease writes, and DhcpService
ratelog     rate-limited warnings for what clients can provoke
"""
