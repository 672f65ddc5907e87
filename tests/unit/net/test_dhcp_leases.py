"""The dynamic pool: allocation, offers, expiry, DECLINE/RELEASE and the dhcplease rows."""

from xcatpy.net.dhcp.leases import OFFER_HOLD, LeasePool, persist
from xcatpy.net.dhcp.view import NetInfo

NET = NetInfo("prov", 0x0A000000, 24, 0xFFFFFF00, ranges=((0x0A000064, 0x0A000067),))  # .100-.103
A, B, C = (bytes.fromhex(f"5254000000{i:02x}") for i in (1, 2, 3))
NOW = 1_000_000.0


def ip(last: int) -> int:
    return 0x0A000000 + last


def test_allocates_in_range_skipping_reserved_and_excluded():
    pool = LeasePool()
    got = pool.allocate(A, NET, reserved={ip(100)}, excluded={ip(101)}, requested=None,
                        now=NOW)
    assert got == ip(102)


def test_an_offer_holds_the_address_for_its_client_only():
    pool = LeasePool()
    first = pool.allocate(A, NET, set(), set(), None, NOW)
    pool.offer(A, first, NOW)
    assert pool.allocate(A, NET, set(), set(), None, NOW) == first
    second = pool.allocate(B, NET, set(), set(), first, NOW)   # asks for A's: refused
    assert second != first
    assert pool.allocate(B, NET, set(), set(), first, NOW + OFFER_HOLD + 1) == first


def test_bound_lease_is_returned_to_its_client_and_kept_from_others():
    pool = LeasePool()
    pool.bind(A, ip(101), "a", 600, NOW)
    assert pool.allocate(A, NET, set(), set(), None, NOW) == ip(101)
    assert not pool.is_free(ip(101), B, set(), NOW)
    assert pool.is_free(ip(101), A, set(), NOW)
    assert pool.pending[A].ip == ip(101)


def test_requested_address_is_honoured_when_free():
    pool = LeasePool()
    assert pool.allocate(A, NET, set(), set(), ip(103), NOW) == ip(103)
    assert pool.allocate(A, NET, set(), set(), ip(50), NOW) != ip(50)    # outside the range


def test_full_pool_reuses_the_longest_expired_lease_and_drops_its_old_row():
    pool = LeasePool()
    for k, mac in enumerate((A, B, C)):
        pool.bind(mac, ip(100 + k), None, 100 + k, NOW)
    pool.bind(bytes(6), ip(103), None, 10_000, NOW)
    assert pool.allocate(b"\x01" * 6, NET, set(), set(), None, NOW + 50) is None
    reused = pool.allocate(b"\x01" * 6, NET, set(), set(), None, NOW + 500)
    assert reused == ip(100)
    pool.pending.clear()
    pool.bind(b"\x01" * 6, reused, None, 600, NOW + 500)
    assert pool.pending[A] is None          # A's row is deleted with the same batch
    assert pool.known(A) is None


def test_decline_holds_the_address_back_and_ends_the_lease():
    pool = LeasePool()
    pool.bind(A, ip(100), None, 600, NOW)
    pool.decline(A, ip(100), NOW, hold=3600)
    assert pool.live(A, NOW) is None and pool.pending[A] is None
    assert pool.allocate(B, NET, set(), set(), ip(100), NOW) != ip(100)
    assert pool.allocate(B, NET, set(), set(), ip(100), NOW + 3601) == ip(100)


def test_release_ends_the_lease_now_but_remembers_the_address():
    pool = LeasePool()
    pool.bind(A, ip(102), None, 600, NOW)
    assert not pool.release(A, ip(101), NOW)      # not its address
    assert pool.release(A, ip(102), NOW + 5)
    assert pool.live(A, NOW + 5) is None
    assert pool.known(A).ip == ip(102)
    assert pool.is_free(ip(102), B, set(), NOW + 5)


def test_load_keeps_unwritten_changes_over_the_rows():
    pool = LeasePool()
    pool.bind(A, ip(100), None, 600, NOW)
    warnings = pool.load([("52:54:00:00:00:02", "10.0.0.101", "b", str(int(NOW + 60))),
                          ("52:54:00:00:00:01", "10.0.0.103", None, "1"),
                          ("garbage", "10.0.0.1", None, "1")])
    assert pool.known(A).ip == ip(100)            # pending beats the (older) row
    assert pool.live(B, NOW).hostname == "b"
    assert len(warnings) == 1 and "garbage" in warnings[0]


def test_written_false_requeues_unless_superseded():
    pool = LeasePool()
    pool.bind(A, ip(100), None, 600, NOW)
    batch = pool.take_pending()
    assert A in batch and not pool.pending
    pool.bind(B, ip(101), None, 600, NOW)
    pool.written(False)
    assert set(pool.pending) == {A, B} and not pool.in_flight


def test_persist_writes_and_deletes_rows(store):
    pool = LeasePool()
    pool.bind(A, ip(100), "client-a", 600, NOW)
    pool.bind(B, ip(101), None, 600, NOW)
    store.begin()
    persist(store, pool.take_pending())
    store.commit()
    rows = {r["mac"]: r for r in store.rows("dhcplease")}
    assert rows["52:54:00:00:00:01"]["ip"] == "10.0.0.100"
    assert rows["52:54:00:00:00:01"]["hostname"] == "client-a"
    assert rows["52:54:00:00:00:01"]["expires"] == str(int(NOW + 600))
    pool.written(True)
    pool.decline(B, ip(101), NOW, 60)
    store.begin()
    persist(store, pool.take_pending())
    store.commit()
    assert [r["mac"] for r in store.rows("dhcplease")] == ["52:54:00:00:00:01"]


def test_expire_drops_stale_offers_and_declines():
    pool = LeasePool()
    pool.offer(A, ip(100), NOW)
    pool.decline(B, ip(101), NOW, 10)
    pool.expire(NOW + OFFER_HOLD + 11)
    assert not pool.offers and not pool.offer_of and not pool.declined
