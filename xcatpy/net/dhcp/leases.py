"""The dynamic pool: addresses from networks.dynamicrange given to clients without a
reservation, held in memory and persisted to the dhcplease table in batches.

The in-memory pool is what answers: a DISCOVER is offered, and a REQUEST acknowledged, at
once. Every change is also queued (`pending`), and the service writes the queue on the
executor's writer thread, one transaction per batch, while it keeps answering. A crash
can lose the last batch; a client that then asks for its address again gets it if it is
still free (we never hand out an address a reservation or another live lease holds).
"""

import time
from collections.abc import Container
from dataclasses import dataclass

from xcatpy.boot.nodeindex import normalize_mac
from xcatpy.db.store import Store
from xcatpy.net.dhcp.packet import parse_ipv4
from xcatpy.net.dhcp.view import NetInfo

OFFER_HOLD = 60.0         # s an offered address stays held for the client it was offered to


@dataclass
class Lease:
    mac: bytes
    ip: int
    hostname: str | None
    expires: float

    def row(self) -> dict:
        return {"mac": self.mac.hex(":"), "ip": _dotted(self.ip), "hostname": self.hostname,
                "expires": str(int(self.expires))}


def _dotted(ip: int) -> str:
    return ".".join(str((ip >> s) & 0xFF) for s in (24, 16, 8, 0))


class LeasePool:
    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.by_mac: dict[bytes, Lease] = {}
        self.by_ip: dict[int, Lease] = {}
        self.offers: dict[int, tuple[bytes, float]] = {}    # ip -> (mac, held until)
        self.offer_of: dict[bytes, int] = {}                 # mac -> ip offered
        self.declined: dict[int, float] = {}                 # ip -> unusable until
        self.pending: dict[bytes, Lease | None] = {}         # mac -> row to write / delete
        self.in_flight: dict[bytes, Lease | None] = {}
        self._cursor: dict[tuple[int, int], int] = {}

    # -- loading and persistence ------------------------------------------------------------

    def load(self, rows: list[tuple]) -> list[str]:
        """Replace the pool with dhcplease rows; changes not yet written win. Returns
        warnings for rows that cannot be used."""
        warnings = []
        by_mac: dict[bytes, Lease] = {}
        for mac, ip, hostname, expires in rows:
            norm = normalize_mac(mac or "")
            try:
                addr = parse_ipv4(ip)
                until = float(expires or 0)
            except ValueError:
                norm = None
            if norm is None:
                warnings.append(f"dhcplease: row '{mac}' '{ip}' '{expires}' is not a lease; "
                                f"ignored")
                continue
            raw = bytes.fromhex(norm.replace(":", ""))
            by_mac[raw] = Lease(raw, addr, hostname or None, until)
        for changes in (self.in_flight, self.pending):
            for mac, lease in changes.items():
                if lease is None:
                    by_mac.pop(mac, None)
                else:
                    by_mac[mac] = lease
        by_ip: dict[int, Lease] = {}
        for lease in sorted(by_mac.values(), key=lambda le: le.expires):
            by_ip[lease.ip] = lease      # two rows on one address: the later expiry holds it
        self.by_mac = {le.mac: le for le in by_ip.values()}
        self.by_ip = by_ip
        return warnings

    def take_pending(self) -> dict[bytes, Lease | None]:
        batch, self.pending = self.pending, {}
        self.in_flight = batch
        return batch

    def written(self, ok: bool) -> None:
        if not ok:   # write it again with the next batch, unless superseded meanwhile
            for mac, lease in self.in_flight.items():
                self.pending.setdefault(mac, lease)
        self.in_flight = {}

    # -- queries ------------------------------------------------------------------------------

    def live(self, mac: bytes, now: float | None = None) -> Lease | None:
        lease = self.by_mac.get(mac)
        now = self.clock() if now is None else now
        return lease if lease is not None and lease.expires > now else None

    def known(self, mac: bytes) -> Lease | None:
        """The client's lease, live or expired (an expired one still names the address it
        would like back)."""
        return self.by_mac.get(mac)

    def offered(self, mac: bytes, now: float) -> int | None:
        ip = self.offer_of.get(mac)
        if ip is None:
            return None
        offer = self.offers.get(ip)
        return ip if offer is not None and offer[0] == mac and offer[1] > now else None

    def is_free(self, ip: int, mac: bytes, reserved: Container[int], now: float) -> bool:
        """May `ip` go to `mac`: not reserved, not another client's live lease or offer,
        not declined."""
        if ip in reserved:
            return False
        if self.declined.get(ip, 0) > now:
            return False
        lease = self.by_ip.get(ip)
        if lease is not None and lease.mac != mac and lease.expires > now:
            return False
        offer = self.offers.get(ip)
        return offer is None or offer[0] == mac or offer[1] <= now

    # -- changes ------------------------------------------------------------------------------

    def allocate(self, mac: bytes, net: NetInfo, reserved: Container[int],
                 excluded: Container[int], requested: int | None, now: float) -> int | None:
        """An address in `net`'s dynamic range for `mac`: its current or offered one, the
        one it asked for, its old one, else the next free one (never-used before expired)."""
        for candidate in (self.offered(mac, now), _ip_of(self.by_mac.get(mac)), requested):
            if candidate is not None and net.in_range(candidate) and \
                    candidate not in excluded and self.is_free(candidate, mac, reserved, now):
                return candidate
        oldest: Lease | None = None
        for first, last in net.ranges:
            key = (first, last)
            start = self._cursor.get(key, first)
            size = last - first + 1
            for k in range(size):
                ip = first + (start - first + k) % size
                if ip in excluded or ip in reserved or self.declined.get(ip, 0) > now:
                    continue
                offer = self.offers.get(ip)
                if offer is not None and offer[0] != mac and offer[1] > now:
                    continue
                lease = self.by_ip.get(ip)
                if lease is None:
                    self._cursor[key] = ip + 1 if ip < last else first
                    return ip
                if lease.expires <= now and (oldest is None or lease.expires < oldest.expires):
                    oldest = lease
        return oldest.ip if oldest is not None else None

    def offer(self, mac: bytes, ip: int, now: float) -> None:
        self.forget_offer(mac)
        self.offers[ip] = (mac, now + OFFER_HOLD)
        self.offer_of[mac] = ip

    def forget_offer(self, mac: bytes) -> None:
        ip = self.offer_of.pop(mac, None)
        if ip is not None and self.offers.get(ip, (None,))[0] == mac:
            del self.offers[ip]

    def expire(self, now: float) -> None:
        """Drop offers and declines that ran out (called now and then, not per packet)."""
        self.offers = {ip: o for ip, o in self.offers.items() if o[1] > now}
        self.offer_of = {o[0]: ip for ip, o in self.offers.items()}
        self.declined = {ip: t for ip, t in self.declined.items() if t > now}

    def bind(self, mac: bytes, ip: int, hostname: str | None, lease_time: int,
             now: float) -> Lease:
        previous = self.by_ip.get(ip)
        if previous is not None and previous.mac != mac:
            # The address moves to a new client: the old client's row goes.
            self.by_mac.pop(previous.mac, None)
            self.pending[previous.mac] = None
        old = self.by_mac.get(mac)
        if old is not None and old.ip != ip:
            self.by_ip.pop(old.ip, None)
        lease = Lease(mac, ip, hostname, now + lease_time)
        self.by_mac[mac] = lease
        self.by_ip[ip] = lease
        self.forget_offer(mac)
        self.pending[mac] = lease
        return lease

    def release(self, mac: bytes, ip: int, now: float) -> bool:
        """End the lease now; its row stays (expired) so the client gets the same
        address back if it is still free when it returns."""
        lease = self.by_mac.get(mac)
        if lease is None or lease.ip != ip:
            return False
        lease = Lease(mac, ip, lease.hostname, now)
        self.by_mac[mac] = self.by_ip[ip] = lease
        self.pending[mac] = lease
        return True

    def decline(self, mac: bytes, ip: int, now: float, hold: float) -> None:
        """The client found `ip` in use: nobody gets it for `hold` seconds (the pool is
        ping-free, so this is how a squatter is stepped around)."""
        self.declined[ip] = now + hold
        lease = self.by_mac.get(mac)
        if lease is not None and lease.ip == ip:
            del self.by_mac[mac]
            self.by_ip.pop(ip, None)
            self.pending[mac] = None
        self.forget_offer(mac)


def _ip_of(lease: Lease | None) -> int | None:
    return None if lease is None else lease.ip


def persist(store: Store, batch: dict[bytes, Lease | None]) -> int:
    """Write one batch of pool changes (runs on the executor's writer thread)."""
    deletes = [{"mac": mac.hex(":")} for mac, lease in batch.items() if lease is None]
    rows = [lease.row() for lease in batch.values() if lease is not None]
    store.delete_rows("dhcplease", deletes)
    if rows:
        store.upsert_rows("dhcplease", rows)
    return len(batch)
