"""The IPMI conversations behind rpower and rsetboot, driven by hand: requests and wording."""

import pytest

from xcatpy.drivers.base import DriverError
from xcatpy.drivers.ipmi import flows
from xcatpy.drivers.ipmi.flows import Response

ON = Response(0, bytes([0x01, 0x00, 0x00]))
OFF = Response(0, bytes([0x00, 0x00, 0x00]))
OK = Response(0)


def converse(flow, answers):
    """Run a flow against scripted answers: (requests it sent, its reply text)."""
    sent = [next(flow)]
    try:
        for answer in answers:
            sent.append(flow.send(answer))
    except StopIteration as done:
        return sent, done.value
    raise AssertionError(f"flow still wants an answer after {sent}")


@pytest.mark.parametrize("action", ["stat", "state"])
@pytest.mark.parametrize("status, text", [(ON, "on"), (OFF, "off")])
def test_stat_reads_chassis_status_only(action, status, text):
    sent, reply = converse(flows.power_flow(action), [status])
    assert reply == text
    assert [(r.netfn, r.command) for r in sent] == [(0, 1)]


@pytest.mark.parametrize("action, status, control, text", [
    ("on", OFF, 1, "on"),
    ("off", ON, 0, "off"),
    ("softoff", ON, 5, "softoff"),
    ("reset", ON, 3, "reset"),
    ("boot", ON, 3, "on reset"),
    ("boot", OFF, 1, "off on"),
])
def test_actions_send_chassis_control_and_word_it_as_ipmi_pm(action, status, control, text):
    sent, reply = converse(flows.power_flow(action), [status, OK])
    assert reply == text
    assert (sent[1].netfn, sent[1].command, sent[1].data) == (0, 2, (control,))
    assert sent[1].changes_state and not sent[0].changes_state


@pytest.mark.parametrize("action, status, text", [
    ("on", ON, "on"), ("off", OFF, "off"), ("softoff", OFF, "off"), ("reset", OFF, "off"),
])
def test_action_already_done_sends_nothing(action, status, text):
    sent, reply = converse(flows.power_flow(action), [status])
    assert (len(sent), reply) == (1, text)


def test_refused_control_names_request_and_code():
    flow = flows.power_flow("on")
    next(flow)
    flow.send(OFF)
    with pytest.raises(DriverError, match=r"refused chassis control on: Invalid data field "
                                          r"in Request \(0xcc\)"):
        flow.send(Response(0xCC))


def test_unknown_completion_code_is_shown_in_hex():
    flow = flows.power_flow("stat")
    next(flow)
    with pytest.raises(DriverError, match=r"refused get chassis status: completion code 0x9a"):
        flow.send(Response(0x9A))


def test_empty_chassis_status_is_an_error():
    flow = flows.power_flow("stat")
    next(flow)
    with pytest.raises(DriverError, match="empty chassis status"):
        flow.send(Response(0, b""))


@pytest.mark.parametrize("device, data, text", [
    ("net", (5, 0x80, 0x04, 0, 0, 0), "Network"),
    ("hd", (5, 0x80, 0x08, 0, 0, 0), "Hard Drive"),
    ("cd", (5, 0x80, 0x14, 0, 0, 0), "CD/DVD"),
    ("def", (5, 0, 0, 0, 0, 0), "boot override inactive"),
])
def test_setboot_keeps_override_then_sets_flags(device, data, text):
    sent, reply = converse(flows.boot_flow(device), [OK, OK])
    assert reply == text
    assert (sent[0].command, sent[0].data) == (8, (3, 0x08))
    assert (sent[1].command, sent[1].data) == (8, data)
    assert sent[1].changes_state


def test_setboot_goes_on_when_bmc_lacks_valid_bit_clearing():
    sent, reply = converse(flows.boot_flow("net"), [Response(0x80), OK])
    assert reply == "Network" and len(sent) == 2


def test_setboot_stops_when_bmc_refuses_valid_bit_clearing_otherwise():
    flow = flows.boot_flow("net")
    next(flow)
    with pytest.raises(DriverError, match="refused boot flag valid bit clearing"):
        flow.send(Response(0xD4))


@pytest.mark.parametrize("data, text", [
    (bytes([1, 5, 0x80, 0x04, 0, 0, 0]), "Network"),
    (bytes([1, 5, 0xC0, 0x08, 0, 0, 0]), "Hard Drive"),
    (bytes([1, 5, 0x80, 0x14, 0, 0, 0]), "CD/DVD"),
    (bytes([1, 5, 0x80, 0x18, 0, 0, 0]), "BIOS Setup"),
    (bytes([1, 5, 0x80, 0x00, 0, 0, 0]), "BIOS default"),
    (bytes([1, 5, 0x00, 0x04, 0, 0, 0]), "boot override inactive"),  # selector, not valid
    (bytes([1, 5, 0x80, 0x1C, 0, 0, 0]), "boot device selector 7"),
])
def test_boot_stat_reads_valid_bit_then_selector(data, text):
    sent, reply = converse(flows.boot_flow("stat"), [Response(0, data)])
    assert reply == text
    assert (sent[0].command, sent[0].data) == (9, (5, 0, 0))


def test_truncated_boot_flags_are_an_error():
    with pytest.raises(DriverError, match="truncated boot flags"):
        flows.describe_boot_flags(bytes([1, 5, 0x80]))
