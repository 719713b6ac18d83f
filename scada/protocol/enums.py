"""Every enumeration on the wire, as ``StrEnum`` so the JSON carries the readable value.

Values are lowercase snake_case and are never renamed in place (defect 27 of the original
changed an enum symbol and broke every stored file): add new members, never edit old ones.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Who runs the house when no admin hold is in force."""

    LOCAL = "local"
    REMOTE = "remote"


class CommandSource(StrEnum):
    """Who issued an actuation, and so who may be the boss of an actuator."""

    HOME_ALONE = "home_alone"
    ATN = "atn"
    ADMIN = "admin"
    INTERLOCK = "interlock"


Boss = CommandSource
"""The current boss of an actuator is always one of the command sources."""


class RelayState(StrEnum):
    """A relay (or any on/off actuator) position."""

    ON = "on"
    OFF = "off"


class ChannelHealth(StrEnum):
    """Whether a channel's latest value may be trusted."""

    OK = "ok"
    STALE = "stale"
    OUT_OF_RANGE = "out_of_range"
    NEVER_READ = "never_read"
    DEVICE_FAILING = "device_failing"


class ContractStatus(StrEnum):
    """States of a DispatchContract between the SCADA and its ATN."""

    OFFERED = "offered"
    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class DeviceHealthState(StrEnum):
    """Health of one hardware device (a board, a meter, a probe)."""

    OK = "ok"
    FAILING = "failing"


class CommandOutcome(StrEnum):
    """What became of an actuation command.

    ``accepted`` (boss check passed, sent to the driver) is followed by ``confirmed`` (read
    back in the commanded state) or ``failed``; ``refused`` is final.
    """

    ACCEPTED = "accepted"
    REFUSED = "refused"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class LinkState(StrEnum):
    """Liveness of the MQTT broker connection (kept apart from ATN liveness, defect 9)."""

    NOT_CONFIGURED = "not_configured"
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


class AtnState(StrEnum):
    """Liveness of the ATN as the SCADA sees it through heartbeats."""

    UNKNOWN = "unknown"
    ALIVE = "alive"
    SILENT = "silent"


class ProblemKind(StrEnum):
    """What a problem report is about."""

    SENSOR_STALE = "sensor_stale"
    SENSOR_OUT_OF_RANGE = "sensor_out_of_range"
    SENSOR_RECOVERED = "sensor_recovered"
    DEVICE_FAILING = "device_failing"
    DEVICE_RECOVERED = "device_recovered"
    ACTOR_RESTARTED = "actor_restarted"
    INTERLOCK_OVERRIDE = "interlock_override"
    LINK_DOWN = "link_down"
    LINK_UP = "link_up"


class Severity(StrEnum):
    """How loud a problem report is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Side(StrEnum):
    """The two ends of a DispatchContract."""

    ATN = "atn"
    SCADA = "scada"


class OnlineState(StrEnum):
    """The retained presence message of a SCADA (``offline`` is also its MQTT last will)."""

    ONLINE = "online"
    OFFLINE = "offline"


class HoldEndReason(StrEnum):
    """Why an admin hold ended."""

    RELEASED = "released"
    EXPIRED = "expired"


class LogLevel(StrEnum):
    """Level of a log line pushed to consoles."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class EventKind(StrEnum):
    """Local API event streams a console may subscribe to."""

    READING = "reading"
    SNAPSHOT = "snapshot"
    ACTUATOR = "actuator"
    DEVICE = "device"
    MODE = "mode"
    CONTRACT = "contract"
    LINK = "link"
    STORE = "store"
    PROBLEM = "problem"
    AUDIT = "audit"
    LOG = "log"
    HOLD = "hold"


class ErrorCode(StrEnum):
    """Well-known ``ApiError.code`` values. The field itself is a plain string, so a newer
    server's code still decodes in an older console."""

    BAD_FRAME = "bad_frame"
    UNSUPPORTED = "unsupported"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    NO_HOLD = "no_hold"
    CONFIRMATION_REQUIRED = "confirmation_required"
    BUSY = "busy"
    INTERNAL = "internal"
