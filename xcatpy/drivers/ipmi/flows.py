"""What rpower and rsetboot say to a BMC, and what they print: IPMI requests as generators.

A flow is a generator that yields `Request`s and receives each `Response`; its return value
is the reply text. It knows nothing about sessions, sockets or time, so the engine can
drive it over pyghmi and the unit tests can drive it by hand. A flow raises `DriverError`
for a BMC's refusal. `Request.changes_state` marks the point after which the engine must
not start the flow again on a fresh session (a second reset is not harmless).

The wording follows xCAT's ipmi.pm: rpower prints the state ("on", "off") or the action
taken ("reset", "softoff"); `boot` prints the state found and the action ("on reset",
"off on"); an action that finds the node already there sends nothing and prints the state.
rsetboot prints the device as ipmi.pm's setboot does ("Network", "Hard Drive", "CD/DVD")
or "boot override inactive".
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from xcatpy.drivers.base import DriverError

NETFN_CHASSIS = 0x00
CMD_GET_CHASSIS_STATUS = 0x01
CMD_CHASSIS_CONTROL = 0x02
CMD_SET_BOOT_OPTIONS = 0x08
CMD_GET_BOOT_OPTIONS = 0x09

# Chassis control data byte (IPMI 2.0 table 28-4).
CONTROL = {"off": 0, "on": 1, "reset": 3, "softoff": 5}

# Boot options parameters (IPMI 2.0 table 28-14).
PARAM_VALID_BIT_CLEARING = 3
PARAM_BOOT_FLAGS = 5
# Parameter 3 data: keep the override past the BMC's 60 s "no chassis control yet" timer.
KEEP_OVERRIDE_PAST_TIMER = 0x08
BOOT_FLAGS_VALID = 0x80
# Device selector of boot flags data 2, already shifted into bits 5..2, per rsetboot device.
BOOT_SELECTOR = {"net": 0x04, "hd": 0x08, "cd": 0x14}
# Selector value (bits 5..2 shifted down) to the name ipmi.pm prints.
BOOT_DEVICE_NAMES = {
    0: "BIOS default",
    1: "Network",
    2: "Hard Drive",
    3: "Hard Drive, Safe Mode",
    5: "CD/DVD",
    6: "BIOS Setup",
    15: "Floppy",
}
NO_OVERRIDE = "boot override inactive"

# Completion codes (IPMI 2.0 table 5-2), worded as ipmi.pm words them.
COMPLETION_CODES = {
    0xC0: "Node busy, command could not be processed",
    0xC1: "Invalid or unsupported command",
    0xC2: "Command invalid for given LUN",
    0xC3: "Timeout while processing command, response unavailable",
    0xC4: "Out of space, could not execute command",
    0xC5: "Reservation canceled or invalid reservation ID",
    0xC6: "Request data truncated",
    0xC7: "Request data length invalid",
    0xC8: "Request data field length limit exceeded",
    0xC9: "Parameter out of range",
    0xCA: "Cannot return number of requested data bytes",
    0xCB: "Requested sensor, data, or record not present",
    0xCC: "Invalid data field in Request",
    0xCD: "Command illegal for specified sensor or record type",
    0xCE: "Command response could not be provided",
    0xCF: "Cannot execute duplicated request",
    0xD0: "SDR Repository in update mode",
    0xD1: "Device in firmware update mode",
    0xD2: "BMC initialization or initialization agent in progress",
    0xD3: "Destination unavailable",
    0xD4: "Insufficient privilege level",
    0xD5: "Command or request parameter(s) not supported in present state",
    0xFF: "Unspecified error",
}
PARAMETER_NOT_SUPPORTED = 0x80  # for boot options commands (table 28-14 notes)


@dataclass(frozen=True)
class Request:
    netfn: int
    command: int
    data: tuple[int, ...] = ()
    what: str = ""  # names the request in error messages
    changes_state: bool = False


@dataclass(frozen=True)
class Response:
    code: int
    data: bytes = b""


Flow = Generator[Request, Response, str]


def describe_code(code: int) -> str:
    text = COMPLETION_CODES.get(code)
    return f"{text} (0x{code:02x})" if text else f"completion code 0x{code:02x}"


def check(request: Request, response: Response) -> Response:
    if response.code:
        raise DriverError(f"BMC refused {request.what}: {describe_code(response.code)}")
    return response


CHASSIS_STATUS = Request(NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, what="get chassis status")


def chassis_control(action: str) -> Request:
    return Request(NETFN_CHASSIS, CMD_CHASSIS_CONTROL, (CONTROL[action],),
                   what=f"chassis control {action}", changes_state=True)


def power_state(status: Response) -> str:
    if not status.data:
        raise DriverError("BMC sent an empty chassis status")
    return "on" if status.data[0] & 0x01 else "off"


def power_flow(action: str) -> Flow:
    """rpower on/off/softoff/reset/boot/stat/state. Reads the state first, as ipmi.pm does,
    so that `on` on a running node and `off`/`reset` on a stopped one send nothing."""
    state = power_state(check(CHASSIS_STATUS, (yield CHASSIS_STATUS)))
    if action in ("stat", "state"):
        return state
    if action == "boot":
        action, text = ("reset", "on reset") if state == "on" else ("on", "off on")
    elif action == "on":
        if state == "on":
            return "on"
        text = "on"
    elif action in ("off", "softoff", "reset"):
        if state == "off":
            return "off"
        text = action
    else:
        raise DriverError(f"unsupported power action '{action}'")
    request = chassis_control(action)
    check(request, (yield request))
    return text


def set_boot_flow(device: str) -> Flow:
    """rsetboot net/hd/cd/def: a next-boot override, or none. The reply is the device
    set, not read back: some BMCs (OpenIPMI's ipmi_sim) never report the valid bit."""
    keep = Request(NETFN_CHASSIS, CMD_SET_BOOT_OPTIONS,
                   (PARAM_VALID_BIT_CLEARING, KEEP_OVERRIDE_PAST_TIMER),
                   what="boot flag valid bit clearing")
    response = yield keep
    if response.code not in (0, PARAMETER_NOT_SUPPORTED):
        check(keep, response)
    if device == "def":
        data = (PARAM_BOOT_FLAGS, 0, 0, 0, 0, 0)
    elif device in BOOT_SELECTOR:
        data = (PARAM_BOOT_FLAGS, BOOT_FLAGS_VALID, BOOT_SELECTOR[device], 0, 0, 0)
    else:
        raise DriverError(f"unsupported boot device '{device}'")
    request = Request(NETFN_CHASSIS, CMD_SET_BOOT_OPTIONS, data, what="set boot flags",
                      changes_state=True)
    check(request, (yield request))
    return NO_OVERRIDE if device == "def" else BOOT_DEVICE_NAMES[BOOT_SELECTOR[device] >> 2]


def boot_stat_flow() -> Flow:
    request = Request(NETFN_CHASSIS, CMD_GET_BOOT_OPTIONS, (PARAM_BOOT_FLAGS, 0, 0),
                      what="get boot flags")
    return describe_boot_flags(check(request, (yield request)).data)


def describe_boot_flags(data: bytes) -> str:
    """Get System Boot Options response data for parameter 5 (after the completion code):
    version, parameter, then boot flags data 1 (bit 7: valid) and data 2 (device)."""
    if len(data) < 4:
        raise DriverError("BMC sent truncated boot flags")
    if not data[2] & BOOT_FLAGS_VALID:
        return NO_OVERRIDE
    selector = (data[3] >> 2) & 0x0F
    return BOOT_DEVICE_NAMES.get(selector, f"boot device selector {selector}")


def boot_flow(device: str) -> Flow:
    return boot_stat_flow() if device == "stat" else set_boot_flow(device)
