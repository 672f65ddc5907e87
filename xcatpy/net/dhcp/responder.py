"""What to answer one DHCP request: RFC 2131's server rules over the snapshot and the pool.

No sockets and no database here: a decoded request and the link it came in on go in, an
Answer (the reply and where to send it) or None comes out. The service owns the view, the
pool and the sockets; tests drive this directly.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.logger import Logger

from xcatpy.boot import urls
from xcatpy.net.dhcp import bootselect
from xcatpy.net.dhcp import packet as p
from xcatpy.net.dhcp.ifaces import IfAddress
from xcatpy.net.dhcp.leases import LeasePool
from xcatpy.net.dhcp.ratelog import RateLimitedLog
from xcatpy.net.dhcp.view import MASTER, DhcpView, NetInfo, Reservation

log = Logger()

DECLINE_HOLD = 3600.0     # s a declined address is kept from every client
BROADCAST = "255.255.255.255"
# Never dropped to fit a small option 57: without them the reply means nothing.
ESSENTIAL = frozenset((p.MESSAGE_TYPE, p.SERVER_ID, p.LEASE_TIME, p.SUBNET_MASK,
                       p.CLIENT_ID, p.RELAY_AGENT_INFO))


@dataclass
class Link:
    """The interface a request came in on: its name and our IPv4 addresses there."""

    name: str
    addresses: list[IfAddress] = field(default_factory=list)
    noboot: bool = False

    @property
    def primary(self) -> bytes | None:
        return self.addresses[0].address if self.addresses else None


@dataclass
class Answer:
    packet: p.DhcpPacket
    dest: tuple[str, int]
    data: bytes = b""


@dataclass
class _Context:
    link: Link
    nets: list[NetInfo]          # networks the client may be on (one when relayed)
    relayed: bool

    def our_address(self, net: NetInfo | None) -> bytes:
        if net is not None:
            for a in self.link.addresses:
                if net.contains(p.ip_int(a.address)):
                    return a.address
        return self.link.primary


class Responder:
    def __init__(self, *, server_port: int = 67, client_port: int = 68,
                 http_port: Callable[[], int] = lambda: 80, mode: str = "server",
                 clock: Callable[[], float] = time.time) -> None:
        self.server_port = server_port
        self.client_port = client_port
        self.http_port = http_port
        self.mode = mode
        self.clock = clock
        self.view = DhcpView()
        self.pool = LeasePool(clock)
        self.own_addresses: set[bytes] = set()     # on every served link (server ids)
        self.stats: Counter = Counter()
        self.pool_log = RateLimitedLog("exhausted-pool warnings")
        self.decline_log = RateLimitedLog("DHCPDECLINE warnings")

    # -- entry points -------------------------------------------------------------------------

    def answer(self, req: p.DhcpPacket, link: Link, *, proxy_port: bool = False,
               source: tuple[str, int] | None = None) -> Answer | None:
        if req.op != p.BOOTREQUEST or req.htype != p.HTYPE_ETHERNET or req.hlen != 6:
            self.stats["ignored"] += 1
            log.debug("DHCP: ignored op {op} htype {htype} hlen {hlen} from {mac} on {link}",
                      op=req.op, htype=req.htype, hlen=req.hlen, mac=req.mac, link=link.name)
            return None
        kind = req.message_type
        if kind is None:
            self.stats["ignored"] += 1
            log.debug("DHCP: BOOTP request (no message type) from {mac} on {link}: BOOTP "
                      "is not served", mac=req.mac, link=link.name)
            return None
        if link.primary is None:
            self.stats["ignored"] += 1
            log.debug("DHCP: {link} has no IPv4 address: cannot answer {mac}",
                      link=link.name, mac=req.mac)
            return None
        ctx = self._context(req, link)
        if ctx is None:
            return None
        self.stats[p.MESSAGE_NAMES.get(kind, "other")] += 1
        if proxy_port:
            return self._proxy_request(req, ctx, source)
        if self.mode == "proxy":
            return self._proxy_offer(req, ctx) if kind == p.DISCOVER else None
        handler = {p.DISCOVER: self._discover, p.REQUEST: self._request,
                   p.DECLINE: self._decline, p.RELEASE: self._release,
                   p.INFORM: self._inform}.get(kind)
        return handler(req, ctx) if handler is not None else None

    def _context(self, req: p.DhcpPacket, link: Link) -> _Context | None:
        if req.giaddr != p.ZERO_IP:
            net = self.view.network_for(p.ip_int(req.giaddr))
            if net is None or not self._ours(net):
                log.debug("DHCP: relayed request from {mac} via {giaddr}: no networks row "
                          "of ours for that relay address", mac=req.mac,
                          giaddr=p.ip_str(req.giaddr))
                self.stats["no network"] += 1
                return None
            return _Context(link, [net], True)
        nets: list[NetInfo] = []
        for a in link.addresses:
            ip = p.ip_int(a.address)
            net = self.view.network_for(ip) or NetInfo.from_interface(ip, a.prefixlen)
            if net not in nets and self._ours(net):
                nets.append(net)
        if not nets:
            log.debug("DHCP: {link}'s networks are served by other DHCP servers "
                      "(networks.dhcpserver)", link=link.name)
            return None
        return _Context(link, nets, False)

    def _ours(self, net: NetInfo) -> bool:
        """networks.dhcpserver blank or one of our addresses (xCAT service node pools name
        the one server of each network there)."""
        return net.dhcpserver is None or net.dhcpserver in self.own_addresses

    # -- server mode --------------------------------------------------------------------------

    def _fixed(self, req: p.DhcpPacket, ctx: _Context) -> tuple[Reservation | None,
                                                                NetInfo | None]:
        res = self.view.reservations.get(req.chaddr[:6])
        if res is not None:
            for net in ctx.nets:
                if net.contains(res.ip):
                    return res, net
            log.debug("DHCP: {mac} (node {node}) is reserved {ip}, not on {link}'s "
                      "networks", mac=req.mac, node=res.node, ip=_dotted(res.ip),
                      link=ctx.link.name)
        return None, None

    @staticmethod
    def _dynamic_net(ctx: _Context) -> NetInfo | None:
        for net in ctx.nets:
            if net.ranges:
                return net
        return None

    def _excluded(self, ctx: _Context, net: NetInfo) -> set[int]:
        """Addresses never to lease on `net`: ours, its gateway, network and broadcast."""
        excluded = {p.ip_int(a.address) for a in ctx.link.addresses}
        excluded.update((net.address, net.broadcast))
        if isinstance(net.gateway, bytes):
            excluded.add(p.ip_int(net.gateway))
        return excluded

    def _discover(self, req: p.DhcpPacket, ctx: _Context) -> Answer | None:
        res, net = self._fixed(req, ctx)
        now = self.clock()
        if res is not None:
            return self._reply(p.OFFER, req, ctx, net, res.ip, res)
        net = self._dynamic_net(ctx)
        if net is None:
            self.stats["unknown"] += 1
            log.debug("DHCP: no reservation for {mac} on {link} and no dynamicrange there: "
                      "not answered", mac=req.mac, link=ctx.link.name)
            return None
        mac = req.chaddr[:6]
        wanted = req.option_ip(p.REQUESTED_IP)
        ip = self.pool.allocate(mac, net, self.view.reserved_ips, self._excluded(ctx, net),
                                p.ip_int(wanted) if wanted else None, now)
        if ip is None:
            self.stats["pool exhausted"] += 1
            self.pool_log.warn("DHCP: dynamic range of network {net} is exhausted: no "
                               "address for {mac}", net=net.name, mac=req.mac)
            return None
        self.pool.offer(mac, ip, now)
        return self._reply(p.OFFER, req, ctx, net, ip, None)

    def _request(self, req: p.DhcpPacket, ctx: _Context) -> Answer | None:
        mac = req.chaddr[:6]
        server_id = req.option_ip(p.SERVER_ID)
        if server_id is not None and server_id not in self.own_addresses:
            self.pool.forget_offer(mac)
            log.debug("DHCP: {mac} chose server {sid}", mac=req.mac, sid=p.ip_str(server_id))
            return None
        wanted = req.option_ip(p.REQUESTED_IP)
        renewing = wanted is None and req.ciaddr != p.ZERO_IP and req.giaddr == p.ZERO_IP
        if wanted is None and req.ciaddr != p.ZERO_IP:
            wanted = req.ciaddr
        if wanted is None:
            self.stats["ignored"] += 1
            log.debug("DHCP: DHCPREQUEST from {mac} names no address", mac=req.mac)
            return None
        want = p.ip_int(wanted)
        if renewing:
            ctx = self._renewal_context(ctx, want)
        now = self.clock()
        res, net = self._fixed(req, ctx)
        if res is not None:
            if want == res.ip:
                return self._reply(p.ACK, req, ctx, net, res.ip, res)
            return self._nak(req, ctx, net, f"{p.ip_str(wanted)} is not its reserved "
                                              f"address {_dotted(res.ip)}")
        net = self._dynamic_net(ctx)
        home = next((n for n in ctx.nets if n.contains(want)), None)
        offered = self.pool.offered(mac, now) if server_id is not None else None
        live = self.pool.live(mac, now)
        if home is None and (net is not None or offered is not None or live is not None):
            # RFC 2131 4.3.2: an address of another network than the one the request
            # came from is NAKed, even the client's own lease or offer there (it moved;
            # an ACK would hand it that address with this network's mask and router).
            here = net or ctx.nets[0]
            return self._nak(req, ctx, here, f"{p.ip_str(wanted)} is not on network "
                                               f"{here.name}")
        if net is None:
            log.debug("DHCP: DHCPREQUEST from unknown {mac} on {link}: not served",
                      mac=req.mac, link=ctx.link.name)
            return None
        expected = offered if offered is not None else (live.ip if live else None)
        if expected is not None:
            ok = want == expected
        else:   # no record (lost, expired, or another server's): free in our range is fine
            ok = (home.in_range(want) and want not in self._excluded(ctx, home)
                  and self.pool.is_free(want, mac, self.view.reserved_ips, now))
        if not ok:
            return self._nak(req, ctx, home, f"{p.ip_str(wanted)} is not its lease")
        hostname = req.options.get(p.HOSTNAME)
        self.pool.bind(mac, want, _text(hostname), self.view.site.lease_time, now)
        return self._reply(p.ACK, req, ctx, home, want, None)

    def _renewal_context(self, ctx: _Context, ip: int) -> _Context:
        """RFC 2131 4.3.2 RENEWING: the client unicasts to us, no relay in between, so
        the link it arrived on says nothing about its network; ciaddr is trusted. A
        relayed client's renewal then answers with its own network's options."""
        if any(n.contains(ip) for n in ctx.nets):
            return ctx
        net = self.view.network_for(ip)
        if net is None or not self._ours(net):
            return ctx          # no network of ours: below, another network's address
        return _Context(ctx.link, [net], ctx.relayed)

    def _nak(self, req: p.DhcpPacket, ctx: _Context, net: NetInfo, why: str) -> Answer | None:
        if not self._authoritative(net, ctx):
            log.debug("DHCP: {mac}: {why}; not authoritative for {net}: silent",
                      mac=req.mac, why=why, net=net.name)
            return None
        self.stats["DHCPNAK sent"] += 1
        log.info("DHCPNAK to {mac} on {link}: {why}", mac=req.mac, link=ctx.link.name, why=why)
        options = {p.MESSAGE_TYPE: bytes((p.NAK,)), p.SERVER_ID: ctx.our_address(net),
                   p.MESSAGE: why.encode()[:200]}
        self._echo(req, options)
        reply = p.DhcpPacket(p.BOOTREPLY, xid=req.xid, hlen=req.hlen,
                             flags=req.flags | (p.FLAG_BROADCAST if ctx.relayed else 0),
                             giaddr=req.giaddr, chaddr=req.chaddr, options=options)
        return self._finish(reply, req, p.NAK)

    def _authoritative(self, net: NetInfo, ctx: _Context) -> bool:
        """We may NAK on a network a networks row names (and that is ours, see _ours); on
        one made up from an interface address another server may be at work."""
        return net.in_table and self._ours(net)

    def _decline(self, req: p.DhcpPacket, ctx: _Context) -> None:
        server_id = req.option_ip(p.SERVER_ID)
        declined = req.option_ip(p.REQUESTED_IP)
        if declined is None or (server_id is not None and server_id not in self.own_addresses):
            return None
        res, _ = self._fixed(req, ctx)
        if res is not None and p.ip_int(declined) == res.ip:
            self.decline_log.warn("DHCPDECLINE from {mac} (node {node}): its reserved "
                                  "address {ip} is in use by another host", mac=req.mac,
                                  node=res.node, ip=p.ip_str(declined))
            return None
        self.pool.decline(req.chaddr[:6], p.ip_int(declined), self.clock(), DECLINE_HOLD)
        self.decline_log.warn("DHCPDECLINE from {mac}: {ip} is in use by another host; "
                              "held back for {hold:.0f} s", mac=req.mac,
                              ip=p.ip_str(declined), hold=DECLINE_HOLD)
        return None

    def _release(self, req: p.DhcpPacket, ctx: _Context) -> None:
        server_id = req.option_ip(p.SERVER_ID)
        if server_id is not None and server_id not in self.own_addresses:
            return None
        if self.pool.release(req.chaddr[:6], p.ip_int(req.ciaddr), self.clock()):
            log.info("DHCPRELEASE of {ip} by {mac}", ip=p.ip_str(req.ciaddr), mac=req.mac)
        return None

    def _inform(self, req: p.DhcpPacket, ctx: _Context) -> Answer | None:
        if req.ciaddr == p.ZERO_IP:
            return None
        ip = p.ip_int(req.ciaddr)
        net = next((n for n in ctx.nets if n.contains(ip)), None)
        if net is None:
            return None
        res = self.view.reservations.get(req.chaddr[:6])
        return self._reply(p.ACK, req, ctx, net, None, res if res and res.ip == ip else None)

    # -- proxyDHCP ----------------------------------------------------------------------------

    def _proxy_offer(self, req: p.DhcpPacket, ctx: _Context) -> Answer | None:
        """PXE spec 2.1 proxyDHCP on port 67: boot information for PXE (and UEFI HTTP)
        clients, no address (another server gives that)."""
        vendor = req.options.get(p.VENDOR_CLASS, b"")
        if not (vendor.startswith(b"PXEClient") or vendor.startswith(b"HTTPClient")):
            return None
        res = self.view.reservations.get(req.chaddr[:6])
        if res is None and not any(n.ranges for n in ctx.nets):
            # Unknown machines are booted only where the admin opted in to discovery.
            log.debug("proxyDHCP: {mac} is not reserved and {link}'s networks have no "
                      "dynamicrange: not answered", mac=req.mac, link=ctx.link.name)
            return None
        return self._boot_only(p.OFFER, req, ctx, res)

    def _proxy_request(self, req: p.DhcpPacket, ctx: _Context,
                       source: tuple[str, int] | None) -> Answer | None:
        if req.message_type not in (p.REQUEST, p.INFORM):
            return None
        res = self.view.reservations.get(req.chaddr[:6])
        answer = self._boot_only(p.ACK, req, ctx, res)
        if answer is not None and source is not None:
            answer.dest = source
        return answer

    def _boot_only(self, kind: int, req: p.DhcpPacket, ctx: _Context,
                   res: Reservation | None) -> Answer | None:
        net = ctx.nets[0] if ctx.nets else None
        our = ctx.our_address(net)
        boot = self._boot(req, ctx, net, our, res)
        if boot is None:
            return None
        siaddr, file, boot_options = boot
        options = {p.MESSAGE_TYPE: bytes((kind,)), p.SERVER_ID: our}
        options.update(boot_options)
        options.setdefault(p.VENDOR_CLASS, b"PXEClient")
        self._echo(req, options)
        reply = p.DhcpPacket(p.BOOTREPLY, xid=req.xid, hlen=req.hlen, flags=req.flags,
                             ciaddr=req.ciaddr if kind == p.ACK else p.ZERO_IP,
                             siaddr=siaddr, giaddr=req.giaddr, chaddr=req.chaddr,
                             file=file, options=options)
        self._log(kind, req, ctx, None, res, file or boot_options.get(p.BOOTFILE_NAME))
        return self._finish(reply, req, kind)

    # -- building replies ---------------------------------------------------------------------

    def _reply(self, kind: int, req: p.DhcpPacket, ctx: _Context, net: NetInfo,
               ip: int | None, res: Reservation | None) -> Answer:
        our = ctx.our_address(net)
        site = self.view.site
        options: dict[int, bytes] = {p.MESSAGE_TYPE: bytes((kind,)), p.SERVER_ID: our}
        if kind != p.ACK or ip is not None:     # an INFORM's ACK carries no lease
            lease = site.lease_time
            options[p.LEASE_TIME] = p.u32(lease)
            options[p.RENEWAL_TIME] = p.u32(lease // 2)
            options[p.REBINDING_TIME] = p.u32(lease * 7 // 8)
        extra = self._net_options(net, our, res)
        siaddr, file = p.ZERO_IP, b""
        boot = self._boot(req, ctx, net, our, res)
        if boot is not None:
            siaddr, file, boot_options = boot
            extra.update(boot_options)
        wanted = req.options.get(p.PARAMETER_REQUEST_LIST, b"")
        for code in wanted:                     # the client's order first
            value = extra.pop(code, None)
            if value is not None:
                options[code] = value
        options.update(extra)
        self._echo(req, options)
        reply = p.DhcpPacket(p.BOOTREPLY, xid=req.xid, hlen=req.hlen, flags=req.flags,
                             ciaddr=req.ciaddr if kind == p.ACK else p.ZERO_IP,
                             yiaddr=p.int_ip(ip) if ip is not None else p.ZERO_IP,
                             siaddr=siaddr, giaddr=req.giaddr, chaddr=req.chaddr, file=file,
                             options=options)
        self._log(kind, req, ctx, ip, res, file or options.get(p.BOOTFILE_NAME))
        return self._finish(reply, req, kind)

    def _net_options(self, net: NetInfo, our: bytes, res: Reservation | None) -> dict:
        site = self.view.site
        options: dict[int, bytes] = {p.SUBNET_MASK: p.u32(net.mask)}
        if net.gateway is not None:
            options[p.ROUTER] = our if net.gateway == MASTER else net.gateway
        dns = _addresses(net.nameservers or site.nameservers, our)
        if dns:
            options[p.DNS_SERVERS] = dns
        if res is not None:
            options[p.HOSTNAME] = (res.hostname or res.node or "").encode()[:255]
            if not options[p.HOSTNAME]:
                del options[p.HOSTNAME]
        domain = net.domain or site.domain
        if domain:
            options[p.DOMAIN_NAME] = domain.encode()
        if net.mtu:
            options[p.MTU] = p.u16(net.mtu)
        options[p.BROADCAST_ADDRESS] = p.u32(net.broadcast)
        ntp = _addresses(net.ntpservers or site.ntpservers, our)
        if ntp:
            options[p.NTP_SERVERS] = ntp
        return options

    def _boot(self, req: p.DhcpPacket, ctx: _Context, net: NetInfo | None, our: bytes,
              res: Reservation | None) -> tuple[bytes, bytes, dict] | None:
        if ctx.link.noboot:
            return None
        arches = p.client_arches(req)
        vendor = req.options.get(p.VENDOR_CLASS, b"")
        user_class = req.options.get(p.USER_CLASS, b"")
        node = self.view.boot.get(res.node) if res is not None and res.node else None
        target = bootselect.choose(
            arches[0] if arches else None, node.netboot if node else None,
            pxe_client=vendor.startswith(b"PXEClient"),
            ipxe_client=b"iPXE" in user_class or p.IPXE_ENCAP in req.options,
            http_base=urls.http_base(p.ip_str(our), self.http_port()), mac=req.mac)
        if target is None:
            return None
        server = (node.tftpserver if node else None) or (net.tftpserver if net else None)
        siaddr = our if server is None or server == MASTER else server
        name = target.file.encode()
        options = {p.TFTP_SERVER_NAME: p.ip_str(siaddr).encode(), p.BOOTFILE_NAME: name}
        if target.vendor_class is not None:
            options[p.VENDOR_CLASS] = target.vendor_class.encode()
        if target.vendor_class == bootselect.PXE_CLIENT:
            sent = p.decode_options_safe(req.options.get(p.VENDOR_SPECIFIC, b""))
            options[p.VENDOR_SPECIFIC] = p.pxe_vendor_options(sent.get(p.PXE_BOOT_ITEM))
        if target.vendor_class is not None and p.CLIENT_UUID in req.options:
            options[p.CLIENT_UUID] = req.options[p.CLIENT_UUID]
        # The header's file field holds 127 bytes and a NUL; longer URLs go in option 67 only.
        return siaddr, name if len(name) < 128 else b"", options

    @staticmethod
    def _echo(req: p.DhcpPacket, options: dict[int, bytes]) -> None:
        for code in (p.CLIENT_ID, p.RELAY_AGENT_INFO):    # RFC 6842, RFC 3046 2.2
            value = req.options.get(code)
            if value is not None:
                options[code] = value

    def _finish(self, reply: p.DhcpPacket, req: p.DhcpPacket, kind: int) -> Answer:
        if req.giaddr != p.ZERO_IP:
            dest = (p.ip_str(req.giaddr), self.server_port)
        elif kind == p.NAK or req.ciaddr == p.ZERO_IP:
            dest = (BROADCAST, self.client_port)
        else:
            dest = (p.ip_str(req.ciaddr), self.client_port)
        limit = req.options.get(p.MAX_MESSAGE_SIZE)
        max_size = p.MIN_MAX_SIZE
        if limit is not None and len(limit) == 2:
            max_size = max(p.MIN_MAX_SIZE, int.from_bytes(limit, "big"))
        data = p.encode(reply, max_size - p.IP_UDP_HEADERS, ESSENTIAL)
        return Answer(reply, dest, data)

    def _log(self, kind: int, req: p.DhcpPacket, ctx: _Context, ip: int | None,
             res: Reservation | None, boot: bytes | None) -> None:
        name = p.MESSAGE_NAMES[kind]
        self.stats[name + " sent"] += 1
        # One pre-built field: Twisted formats each field of every event it writes, and
        # under a boot storm these lines are most of the service's work.
        node = f" (node {res.node})" if res is not None and res.node else ""
        file = f" boot {boot.decode('ascii', 'replace')}" if boot else ""
        log.info("{line}", line=f"{name} {_dotted(ip) if ip is not None else '(no address)'} "
                                f"to {req.mac}{node} on {ctx.link.name}{file}")


def _addresses(values: tuple, our: bytes) -> bytes:
    return b"".join(our if v == MASTER else v for v in values)


def _dotted(ip: int) -> str:
    return p.ip_str(p.int_ip(ip))


def _text(value: bytes | None) -> str | None:
    if not value:
        return None
    text = value.rstrip(b"\0").decode("ascii", "replace").strip()
    return text[:255] or None
