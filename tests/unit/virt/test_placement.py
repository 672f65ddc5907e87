"""The evacuation planner: hand-worked plans, reasons, and its promises by property."""

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.virt.placement import Demand, Move, plan


def inbound_mb(result, host):
    return sum(m.memory_mb for m in result.inbound(host))


# --- examples ----------------------------------------------------------------------------


def test_largest_first_most_free_then_fewest_inbound_then_name():
    # Worked by hand, in the order the planner takes them (size down, then guest name):
    #   g1 4000: a 10000 is the most free                      -> a (a 6000, b 6000, c 5000)
    #   g2 2000: a and b tie at 6000; a already has one move   -> b (a 6000, b 4000, c 5000)
    #   g3 1000: a is the most free                            -> a (a 5000, b 4000, c 5000)
    #   g4 1000: a and c tie at 5000; a has two moves, c none  -> c (a 5000, b 4000, c 4000)
    #   g5 1000: a is the most free                            -> a (a 4000, b 4000, c 4000)
    #   g6 1000: all at 4000; a has three, b and c one: b by name -> b
    demands = [Demand("g6", 1000, "s"), Demand("g5", 1000, "s"), Demand("g4", 1000, "s"),
               Demand("g3", 1000, "s"), Demand("g2", 2000, "s"), Demand("g1", 4000, "s")]
    result = plan(demands, {"c": 5000, "b": 6000, "a": 10000})
    assert result.moves == [Move("g1", "s", "a", 4000), Move("g2", "s", "b", 2000),
                            Move("g3", "s", "a", 1000), Move("g4", "s", "c", 1000),
                            Move("g5", "s", "a", 1000), Move("g6", "s", "b", 1000)]
    assert result.unplaced == {}
    assert result.free_mb == {"a": 4000, "b": 3000, "c": 4000}
    assert [m.guest for m in result.inbound("a")] == ["g1", "g3", "g5"]


def test_tie_on_free_and_inbound_goes_to_the_first_name():
    result = plan([Demand("g", 512, "s")], {"hv3": 4096, "hv1": 4096, "hv2": 4096})
    assert result.moves == [Move("g", "s", "hv1", 512)]


def test_equal_sizes_are_taken_in_guest_name_order():
    # Only one fits: the first by name gets it, whatever order they were given in.
    result = plan([Demand("vm-b", 3000, "s"), Demand("vm-a", 3000, "s")], {"h": 4000})
    assert result.moves == [Move("vm-a", "s", "h", 3000)]
    assert set(result.unplaced) == {"vm-b"}


def test_a_guest_too_big_for_any_host_says_how_big_and_the_most_free():
    result = plan([Demand("big", 16384, "s")], {"a": 2000, "b": 12288, "c": 12288, "s": 99999})
    assert result.moves == []
    assert result.unplaced == {
        "big": "no host has room: needs 16384 MB, the most free on an allowed host is "
               "12288 MB on b"}
    assert result.free_mb == {"a": 2000, "b": 12288, "c": 12288, "s": 99999}


def test_too_big_counts_the_refused_hosts_too():
    refuse = {"m1", "m2"}
    result = plan([Demand("big", 8192, "s")], {"a": 4096, "m1": 65536, "m2": 65536},
                  lambda d, h: "in maintenance" if h in refuse else None)
    assert result.unplaced == {
        "big": "no host has room: needs 8192 MB, the most free on an allowed host is "
               "4096 MB on a; 2 other hosts not allowed"}
    one = plan([Demand("big", 8192, "s")], {"a": 4096, "m1": 65536},
               lambda d, h: "in maintenance" if h in refuse else None)
    assert one.unplaced["big"].endswith("; 1 other host not allowed")


def test_room_is_counted_after_the_moves_planned_before():
    # Both fit on their own; after the first, the second does not.
    result = plan([Demand("g1", 3000, "s"), Demand("g2", 2000, "s")], {"h": 4000})
    assert result.moves == [Move("g1", "s", "h", 3000)]
    assert result.unplaced == {
        "g2": "no host has room: needs 2000 MB, the most free on an allowed host is "
              "1000 MB on h"}


def test_all_hosts_refused_groups_the_reasons():
    maintenance = {f"hv{i}" for i in range(1, 6)}
    cluster = {"hv6", "hv7"}

    def allowed(demand, host):
        if host in maintenance:
            return "in maintenance"
        if host in cluster:
            return "in cluster b, the guest is in cluster a"
        return "lacks CPU feature avx512f"

    free = {f"hv{i}": 65536 for i in range(1, 9)}
    result = plan([Demand("g", 1024, "src")], free, allowed)
    assert result.moves == []
    assert result.unplaced == {
        "g": "no allowed destination (hv1,hv2,hv3 and 2 more: in maintenance; "
             "hv6,hv7: in cluster b, the guest is in cluster a; "
             "hv8: lacks CPU feature avx512f)"}


def test_exactly_three_hosts_sharing_a_reason_are_all_named():
    result = plan([Demand("g", 1, "s")], {"c": 9, "a": 9, "b": 9}, lambda d, h: "in maintenance")
    assert result.unplaced == {"g": "no allowed destination (a,b,c: in maintenance)"}


def test_refused_groups_of_equal_size_are_ordered_by_reason():
    result = plan([Demand("g", 1, "s")], {"a": 9, "b": 9},
                  lambda d, h: "zz reason" if h == "a" else "aa reason")
    assert result.unplaced == {"g": "no allowed destination (b: aa reason; a: zz reason)"}


def test_no_other_hypervisor():
    result = plan([Demand("g", 512, "s")], {"s": 99999})
    assert result.unplaced == {"g": "no other hypervisor to move to"}
    assert plan([Demand("g", 512, "s")], {}).unplaced == {"g": "no other hypervisor to move to"}


def test_never_planned_onto_its_source():
    # The source has by far the most free memory, and is still never chosen.
    free = {"s": 1_000_000, "a": 1000}
    result = plan([Demand("small", 500, "s"), Demand("large", 2000, "s")], free)
    assert result.moves == [Move("small", "s", "a", 500)]
    assert result.unplaced == {
        "large": "no host has room: needs 2000 MB, the most free on an allowed host is "
                 "1000 MB on a"}
    assert result.free_mb["s"] == 1_000_000


def test_guests_from_several_sources_can_land_on_each_others_source():
    result = plan([Demand("x", 1000, "h1"), Demand("y", 900, "h2")], {"h1": 5000, "h2": 4000})
    assert result.moves == [Move("x", "h1", "h2", 1000), Move("y", "h2", "h1", 900)]


def test_hosts_not_in_free_mb_are_never_used_or_asked_about():
    asked = []

    def allowed(demand, host):
        asked.append(host)
        return None

    demands = [Demand(f"g{i}", 1024 * (i % 4 + 1), f"old{i % 2}") for i in range(10)]
    result = plan(demands, {"new1": 8192, "new2": 8192}, allowed)
    assert {m.dest for m in result.moves} <= {"new1", "new2"}
    assert set(asked) == {"new1", "new2"}
    assert set(result.free_mb) == {"new1", "new2"}
    assert len(result.moves) + len(result.unplaced) == 10


def test_plan_free_mb_is_the_input_less_the_planned_moves():
    free = {"a": 20000, "b": 15000, "c": 9000, "d": 0}
    demands = [Demand(f"g{i}", size, "s")
               for i, size in enumerate([8192, 4096, 4096, 2048, 2048, 1024, 512, 16384, 32768])]
    result = plan(demands, free)
    assert result.moves and result.unplaced  # some of each, so the check means something
    assert result.free_mb == {h: free[h] - inbound_mb(result, h) for h in free}
    assert free == {"a": 20000, "b": 15000, "c": 9000, "d": 0}  # the input is not changed


def test_same_input_in_another_order_gives_the_same_plan():
    rng = random.Random(7)
    hosts = {f"hv{i:02}": rng.choice([4096, 8192, 16384, 32768]) for i in range(12)}
    demands = [Demand(f"vm{i:03}", rng.choice([512, 1024, 2048, 4096, 8192]),
                      f"hv{rng.randrange(3):02}") for i in range(80)]
    forbidden = {(d.guest, h) for d in demands for h in hosts if rng.random() < 0.2}

    def allowed(demand, host):
        return "lacks CPU feature avx512f" if (demand.guest, host) in forbidden else None

    first = plan(demands, hosts, allowed)
    assert first.moves and first.unplaced
    for _ in range(5):
        shuffled = demands[:]
        rng.shuffle(shuffled)
        order = list(hosts)
        rng.shuffle(order)
        again = plan(shuffled, {h: hosts[h] for h in order}, allowed)
        assert again.moves == first.moves
        assert again.unplaced == first.unplaced
        assert again.free_mb == first.free_mb


# --- properties --------------------------------------------------------------------------

HOSTS = [f"h{i}" for i in range(8)]
REASONS = ["in maintenance", "in cluster b, the guest is in cluster a",
           "lacks CPU feature avx512f"]


@st.composite
def scenarios(draw):
    hosts = draw(st.lists(st.sampled_from(HOSTS), unique=True, max_size=len(HOSTS)))
    # Multiples of 512 make ties on free memory common, so the tie-breaks are exercised.
    free = {h: draw(st.integers(0, 64)) * 512 for h in hosts}
    sources = hosts + ["gone"]  # a source may be absent from free_mb
    demands = [Demand(f"g{i}", draw(st.integers(1, 32)) * 512 + draw(st.sampled_from([0, 0, 1])),
                      draw(st.sampled_from(sources)))
               for i in range(draw(st.integers(0, 30)))]
    forbidden = {}
    if hosts and demands:
        pairs = draw(st.lists(st.tuples(st.sampled_from([d.guest for d in demands]),
                                        st.sampled_from(hosts), st.sampled_from(REASONS)),
                              max_size=60))
        forbidden = {(g, h): why for g, h, why in pairs}
    return demands, free, forbidden


def check_plan(demands, free, forbidden, result):
    def allowed(demand, host):
        return forbidden.get((demand.guest, host))

    by_guest = {d.guest: d for d in demands}
    # (b) every demand exactly once, moved or unplaced
    placed = Counter(m.guest for m in result.moves)
    assert all(n == 1 for n in placed.values())
    assert not set(placed) & set(result.unplaced)
    assert set(placed) | set(result.unplaced) == set(by_guest)
    # (c) a move is the demand's own, to a known host that is neither its source nor forbidden
    for m in result.moves:
        d = by_guest[m.guest]
        assert (m.source, m.memory_mb) == (d.source, d.memory_mb)
        assert m.dest in free
        assert m.dest != d.source
        assert (m.guest, m.dest) not in forbidden
    # largest first
    sizes = [m.memory_mb for m in result.moves]
    assert sizes == sorted(sizes, reverse=True)
    # (a) zero overcommit, (e) free after = free before less what moves in
    for h in free:
        assert inbound_mb(result, h) <= free[h]
    assert result.free_mb == {h: free[h] - inbound_mb(result, h) for h in free}
    assert all(v >= 0 for v in result.free_mb.values())
    # (d) unplaced only for its stated reason
    for guest, why in result.unplaced.items():
        d = by_guest[guest]
        assert "\n" not in why
        others = [h for h in free if h != d.source]
        permitted = [h for h in others if allowed(d, h) is None]
        if why.startswith("no host has room: "):
            assert permitted
            # Free memory only shrinks as moves are planned, so no permitted host could
            # have taken it when it was considered if none can at the end.
            assert all(result.free_mb[h] < d.memory_mb for h in permitted)
            assert f"needs {d.memory_mb} MB" in why
        elif why.startswith("no allowed destination ("):
            assert others and not permitted
            for reason in {allowed(d, h) for h in others}:
                assert reason in why
        else:
            assert why == "no other hypervisor to move to"
            assert not others


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_plan_promises(scenario):
    demands, free, forbidden = scenario
    before = dict(free)
    result = plan(demands, free, lambda d, h: forbidden.get((d.guest, h)))
    assert free == before
    check_plan(demands, free, forbidden, result)


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_input_order(scenario, rnd):
    demands, free, forbidden = scenario
    rule = lambda d, h: forbidden.get((d.guest, h))  # noqa: E731
    first = plan(demands, free, rule)
    shuffled = demands[:]
    rnd.shuffle(shuffled)
    order = list(free)
    rnd.shuffle(order)
    again = plan(shuffled, {h: free[h] for h in order}, rule)
    assert (again.moves, again.unplaced, again.free_mb) == (first.moves, first.unplaced,
                                                            first.free_mb)
