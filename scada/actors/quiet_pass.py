"""The controller's last quiet pass, and whether a pass now would be quiet too.

A control pass that switched nothing is remembered with what it read (the mode state as a pass
decides from it, the count of the controller's other input changes, the control readings, the
heat pump's health, the boards ready) and until when time alone leaves its decisions as they
are. Another pass finds nothing to do either while all of that still holds and no deadline of
the mode state's has come, so the controller sleeps instead (see
:mod:`scada.actors.pass_schedule`).

The readings are judged in one of two ways. With the home-alone strategy as boss every reading
counts: the book's count of changes must be the same. With the ATN or an installer as boss the
readings matter only through the interlocks' comparisons, so the pass holds for any readings
inside the bands where each comparison comes out as it did (:func:`reading_bands`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from scada.actors.channels import ChannelBook
from scada.actors.pass_schedule import Memo
from scada.control import ModeState, RelayRecord
from scada.control import modes as m
from scada.control.interlocks import Band, in_band, reading_bands
from scada.layout.control import ControlSettings
from scada.protocol.enums import CommandSource

PassInputs = tuple[ModeState, int, int, bool, int]
"""What a control pass reads, but time: (decision state, count of other input changes, the
book's count of reading changes, heat pump available, boards ready)."""
_BANDED = -1
"""In a banded memo's key, in place of the book's count: the readings are judged by their
bands."""


class QuietPass:
    """The last quiet pass of one controller (see the module's doc)."""

    def __init__(self, settings: ControlSettings) -> None:
        self._settings = settings
        self.memo: Memo[PassInputs, None] | None = None
        # None: the readings count by the book's count of changes (the memo's key holds it).
        self.bands: dict[str, Band | None] | None = None
        self._deadline: tuple[ModeState, datetime, datetime | None] | None = None

    def forget(self) -> None:
        """A pass is running: until it ends quiet, no pass is."""
        self.memo, self.bands = None, None

    def remember(
        self,
        inputs: PassInputs,
        now: datetime,
        until: datetime | None,
        *,
        source: CommandSource,
        readings: Mapping[str, float | None],
        history: Mapping[str, RelayRecord],
    ) -> None:
        """The pass at ``now`` that read ``inputs`` (``readings`` among them, with the relays'
        ``history``, under ``source``) switched nothing; time alone leaves its decisions as
        they are until ``until``."""
        if source is CommandSource.HOME_ALONE:  # the strategy reads every reading
            self.memo, self.bands = Memo(inputs, now, until, None), None
            return
        self.bands = reading_bands(readings, history, self._settings)
        self.memo = Memo(_banded(inputs), now, until, None)

    def holds(self, inputs: PassInputs, state: ModeState, book: ChannelBook, now: datetime) -> bool:
        """True when a pass now would be quiet: the last quiet pass read what a pass would
        read now (``inputs``), none of its decisions' deadlines has come, nor the mode
        state's own."""
        memo, bands = self.memo, self.bands
        if memo is None or not memo.fits(inputs if bands is None else _banded(inputs), now):
            return False
        if bands is not None and not all(in_band(book.fresh(c), b) for c, b in bands.items()):
            return False
        deadline = self.time_deadline(state, now)
        return deadline is None or now < deadline

    def ends_with(self, channel: str, value: float | None) -> bool:
        """Whether ``channel`` now reading ``value`` (``None``: none fresh) may end the quiet:
        False only when it stays inside its band, or the interlocks do not read it at all (a
        room's temperature, with the ATN as boss)."""
        bands = self.bands
        if bands is None or self.memo is None:
            return True
        return channel in bands and not in_band(value, bands[channel])

    def time_deadline(self, state: ModeState, now: datetime) -> datetime | None:
        """When time alone next moves ``state`` (a silence, a lapse, a hold's end), from the
        last quiet pass on (from ``now`` without one): a deadline that has passed since then
        is not lost. Taken from the state as it is, not as the last quiet pass saw it: every
        heartbeat moves it later without a pass. (The SCADA's own heartbeat has a timer of its
        own: :meth:`~scada.actors.uplink_side.UplinkSide.rearm_beat`.)"""
        since = self.memo.at if self.memo is not None else now
        cached = self._deadline
        if cached is not None and cached[0] is state and cached[1] == since:
            return cached[2]
        deadline = m.steady_until(state, since, self._settings)
        self._deadline = (state, since, deadline)
        return deadline


def _banded(inputs: PassInputs) -> PassInputs:
    """``inputs`` with the book's count of reading changes left out (the bands stand for it)."""
    state, seq, _, heat_pump_ok, ready = inputs
    return state, seq, _BANDED, heat_pump_ok, ready
