"""Relay probes: read a relay back, or click it and always leave it as found."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from scada.clock import Clock, SystemClock
from scada.drivers.base import RelayBoard
from scada.drivers.buses import Buses
from scada.drivers.errors import DriverError
from scada.layout import Device, Layout, MakeModel
from scada.probe.common import (
    RELAY_BOARDS,
    ProbeError,
    build_driver,
    bus_path,
    describe,
    ms_since,
    unknown,
)


@dataclass(frozen=True, slots=True)
class RelayTarget:
    """A relay: its actuator node (None for a bare ``board:channel``), board and channel."""

    node: str | None
    device: Device
    channel: int
    active_low: bool = False

    @property
    def label(self) -> str:
        return self.node or f"{self.device.name}:{self.channel}"


def find_relay(layout: Layout, name: str) -> RelayTarget:
    """The relay ``name``: an actuator node alias, or ``<board>:<channel>`` (0-based)."""
    devices = {d.name: d for d in layout.devices}
    for a in layout.actuators:
        if a.node == name:
            return RelayTarget(a.node, devices[a.device], a.board_channel, a.active_low)
    boards = [d.name for d in layout.devices if d.make_model in RELAY_BOARDS]
    board, sep, channel = name.rpartition(":")
    if sep and board in boards:
        try:
            ch = int(channel)
        except ValueError:
            raise ProbeError(f"'{channel}' is not a channel number: use {board}:0") from None
        act = next(
            (a for a in layout.actuators if a.device == board and a.board_channel == ch), None
        )
        dev = devices[board]
        if act is not None:
            return RelayTarget(act.node, dev, ch, act.active_low)
        # As the drivers take a channel no actuator describes: Krida relays energise low.
        return RelayTarget(None, dev, ch, dev.make_model is MakeModel.KRIDA_EMR16_I2C)
    if name in boards:
        mine = [a.node for a in layout.actuators if a.device == name]
        raise ProbeError(
            f"{name} is a relay board: name one of its relays ({', '.join(mine) or 'none'}) "
            f"or {name}:<channel>"
        )
    raise unknown("relay", name, layout, [a.node for a in layout.actuators])


StepAction = Literal["read", "on", "hold", "off", "restore"]


@dataclass(frozen=True, slots=True)
class RelayStep:
    """One step of a relay probe: what was asked, what the board read back, how long it took."""

    action: StepAction
    wanted: bool | None  # energized?; None for a read or the hold
    read_back: bool | None  # the state read from the board after the step; None: unknown
    elapsed_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and (self.wanted is None or self.read_back == self.wanted)


@dataclass(frozen=True, slots=True)
class RelayProbe:
    target: RelayTarget
    where: str
    clicked: bool
    original: bool
    steps: tuple[RelayStep, ...]
    final: bool | None  # the state read back at the end; None if it could not be read

    @property
    def restored(self) -> bool:
        return self.final == self.original

    @property
    def ok(self) -> bool:
        return self.restored and all(s.ok for s in self.steps)


async def probe_relay(
    layout: Layout,
    buses: Buses,
    target: RelayTarget,
    *,
    click: bool = False,
    hold_s: float = 1.0,
    clock: Clock | None = None,
    report: Callable[[RelayStep], None] | None = None,
) -> RelayProbe:
    """Read ``target`` back from its board; with ``click``: on, read back, hold ``hold_s``, off,
    read back. Whatever happens (a failed step, a cancel), the relay is left as it was found.

    ``report`` sees each step as it is done (the CLI prints them live).
    """
    clock = clock or SystemClock()
    device, ch = target.device, target.channel
    board = build_driver(layout, device, buses, clock)
    if not isinstance(board, RelayBoard):
        raise ProbeError(f"{device.name} is not a relay board")
    steps: list[RelayStep] = []

    def done(step: RelayStep) -> None:
        steps.append(step)
        if report is not None:
            report(step)

    try:
        t = time.perf_counter()
        try:
            await board.open()
            original = await board.read(ch)
        except DriverError as e:
            raise ProbeError(describe(e, device)) from None
        done(RelayStep("read", None, original, ms_since(t)))
        final: bool | None = original
        if click:
            final = await _click(
                board,
                device=device,
                ch=ch,
                original=original,
                hold_s=hold_s,
                clock=clock,
                done=done,
            )
    finally:
        await board.close()
    return RelayProbe(target, bus_path(device), click, original, tuple(steps), final)


async def _click(
    board: RelayBoard,
    *,
    device: Device,
    ch: int,
    original: bool,
    hold_s: float,
    clock: Clock,
    done: Callable[[RelayStep], None],
) -> bool | None:
    """On, hold, off; then back to ``original``. Returns the state read back at the end."""
    try:
        for action in ("on", "hold", "off"):
            t = time.perf_counter()
            if action == "hold":
                await clock.sleep(hold_s)
                done(RelayStep("hold", None, None, ms_since(t)))
                continue
            want = action == "on"
            try:
                await board.write(ch, want)
                seen = await board.read(ch)
            except DriverError as e:
                done(
                    RelayStep("on" if want else "off", want, None, ms_since(t), describe(e, device))
                )
                break
            if seen != want:
                error = f"{device.name} ({bus_path(device)}): relay {ch} reads back the other way"
                done(RelayStep("on" if want else "off", want, seen, ms_since(t), error))
                break
            done(RelayStep("on" if want else "off", want, seen, ms_since(t)))
    finally:
        final = await _restore(board, device, ch, original, done)
    return final


async def _restore(
    board: RelayBoard,
    device: Device,
    ch: int,
    original: bool,
    done: Callable[[RelayStep], None],
) -> bool | None:
    """Command ``original`` again and read it back. Always written, even when the relay already
    reads so: after a failed step the latch may disagree with a stuck pin, and the relay would
    follow the latch once the pin frees. The driver writes nothing when the latch agrees."""
    t = time.perf_counter()
    before: bool | None = None
    try:
        before = await board.read(ch)
        await board.write(ch, original)
        now = await board.read(ch)
    except DriverError as e:
        with contextlib.suppress(DriverError):  # once more, blind: it must not stay switched
            await board.write(ch, original)
        done(RelayStep("restore", original, None, ms_since(t), describe(e, device)))
        return None
    if before != original or now != original:
        error = None if now == original else f"{device.name}: relay {ch} did not go back"
        done(RelayStep("restore", original, now, ms_since(t), error))
    return now
