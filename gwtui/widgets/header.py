"""The header every screen starts with: which house, simulated or REAL, and who is in charge.

Three lines: the house (with a SIMULATED or REAL HOUSE badge in colours that do not depend on
the theme) and the connection; the mode, contract, uplink and store; the admin hold. While the
console is not attached, everything but the connection line is drawn dim and says "last known":
an installer must never read old values as live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from gwtui.clock import Clock
from gwtui.format import MODE_LABELS, format_age, format_bytes, format_countdown
from gwtui.state import ConsoleState, LinkPhase
from gwtui.widgets.live_table import text_looks
from scada.protocol import AtnState, ContractStatus, LinkState

SIM_BADGE: Final = "bold #000000 on #5fd7ff"
REAL_BADGE: Final = "bold #ffffff on #d70000"
LIVE_STYLE: Final = "bold #00d700"
WARN_STYLE: Final = "bold #ffd700"
DOWN_STYLE: Final = "bold #ffffff on #d70000"
ALARM_STYLE: Final = "bold #d75f5f"
HOLD_STYLE: Final = "bold #000000 on #ffd700"
GREY: Final = "#808080"
SEP: Final = " │ "


@dataclass(frozen=True, slots=True)
class HeaderView:
    """What the header needs besides the state."""

    operator: str | None
    readonly: bool
    now: datetime
    monotonic: float
    paused: bool = False


HeaderLines = tuple[tuple[Text, Text], Text, tuple[Text, Text]]
"""The header's three lines: house | connection; the status line; hold | store."""


def header_lines(state: ConsoleState, view: HeaderView) -> HeaderLines:
    """What the header says, line by line (the widget redraws only the lines that changed)."""
    live = state.live
    server_now = state.server_now(view.now)
    status = _status_line(state, server_now)
    hold = _hold_line(state, view, server_now)
    extra = _store(state, server_now)
    if view.paused:
        extra.append("  PAUSED", style=WARN_STYLE)
    if state.house_alias is None:
        status = Text("No SCADA attached yet: nothing to show.", style=GREY)
        hold, extra = Text(), Text()
    elif not live:
        # Old news in one flat grey: no green "active" or "up" that could read as current.
        status = Text.assemble(("LAST KNOWN ", "bold italic " + GREY), (status.plain, GREY))
        hold = Text(hold.plain, style=GREY)
        extra = Text(extra.plain, style=GREY)
    status.no_wrap = True
    status.overflow = "ellipsis"
    return (_house_line(state), _connection(state, view, server_now)), status, (hold, extra)


def _top_grid(left: Text, right: Text) -> Table:
    top = Table.grid(expand=True)
    top.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    top.add_column(justify="right", no_wrap=True)
    top.add_row(left, right)
    return top


def _bottom_grid(left: Text, right: Text) -> Table:
    bottom = Table.grid(expand=True, padding=(0, 0, 0, 2))
    bottom.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    bottom.add_column(justify="right", no_wrap=True)
    bottom.add_row(left, right)
    return bottom


def render_header(state: ConsoleState, view: HeaderView) -> RenderableType:
    """The header's three lines: house and connection; mode, contract and uplink; the hold
    and the store backlog."""
    top, status, bottom = header_lines(state, view)
    return Group(_top_grid(*top), status, _bottom_grid(*bottom))


def _house_line(state: ConsoleState) -> Text:
    line = Text()
    if state.simulated is None:
        line.append(" NO HOUSE YET ", style="reverse")
    elif state.simulated:
        line.append(" SIMULATED ", style=SIM_BADGE)
    else:
        line.append(" REAL HOUSE ", style=REAL_BADGE)
    line.append(" ")
    line.append(state.house_alias or "-", style="bold")
    if state.house_name:
        line.append(f"  {state.house_name}")
    return line


def _connection(state: ConsoleState, view: HeaderView, server_now: datetime) -> Text:
    conn = state.connection
    if conn.phase is LinkPhase.LIVE:
        return Text.assemble(("● LIVE ", LIVE_STYLE), (f"{server_now:%H:%M:%S}Z", "bold"))
    if conn.phase is LinkPhase.CONNECTING:
        return Text("◌ CONNECTING…", style=WARN_STYLE)
    text = Text(" DISCONNECTED ", style=DOWN_STYLE)
    if conn.retry_at is not None:
        wait = max(0.0, conn.retry_at - view.monotonic)
        text.append(f" retry in {wait:.0f}s", style=WARN_STYLE)
    return text


def _status_line(state: ConsoleState, server_now: datetime) -> Text:
    line = Text()
    mode = MODE_LABELS.get(state.mode, "-") if state.mode is not None else "mode ?"
    line.append(mode, style="bold")
    line.append(SEP, style="dim")
    line.append("Contract ", style="dim")
    line.append_text(_contract(state, server_now))
    line.append(SEP, style="dim")
    line.append("Uplink ", style="dim")
    line.append_text(_uplink(state))
    return line


def _store(state: ConsoleState, server_now: datetime) -> Text:
    """The backlog awaiting the ATN (how much is on its way, how old the oldest is), what was
    quarantined, and the store's size, red when it nears its cap."""
    store = state.store
    if store is None:
        return Text()
    pending = store.pending_uplink
    out = Text.assemble(("Backlog ", "dim"), (f"{pending:,}", WARN_STYLE if pending else ""))
    if pending:
        detail = []
        if store.in_flight:
            detail.append(f"{store.in_flight:,} sending")
        if store.oldest_pending_at is not None:
            age = (server_now - store.oldest_pending_at).total_seconds()
            detail.append(f"oldest {format_age(age)}")
        if detail:
            out.append(f" ({', '.join(detail)})", style="dim")
    if store.quarantined:
        out.append(" · ", style="dim")
        out.append(f"{store.quarantined:,} quarantined", style=ALARM_STYLE)
    out.append(" · ", style="dim")
    if store.fill_alarm:
        out.append(
            f"{format_bytes(store.size_bytes)} of {format_bytes(store.cap_bytes)}",
            style=ALARM_STYLE,
        )
    else:
        out.append(format_bytes(store.size_bytes), style="dim")
    return out


def _contract(state: ConsoleState, server_now: datetime) -> Text:
    c = state.contract
    if c is None:
        return Text("none")
    if c.status is ContractStatus.ACTIVE:
        left = (c.end - server_now).total_seconds()
        return Text.assemble(("active", LIVE_STYLE), f", {format_countdown(left)} left")
    if c.status is ContractStatus.OFFERED:
        return Text("offered", style=WARN_STYLE)
    return Text(c.status.value)


def _uplink(state: ConsoleState) -> Text:
    link = state.link
    if link is None:
        return Text("-")
    if link.broker is LinkState.NOT_CONFIGURED:
        broker = Text("none")
    elif link.broker is LinkState.UP:
        broker = Text("up", style=LIVE_STYLE)
    else:
        broker = Text(link.broker.value, style=WARN_STYLE)
    atn_style = {AtnState.ALIVE: LIVE_STYLE, AtnState.SILENT: WARN_STYLE}.get(link.atn, "")
    return Text.assemble(broker, (" │ ", "dim"), ("ATN ", "dim"), (link.atn.value, atn_style))


def _hold_line(state: ConsoleState, view: HeaderView, server_now: datetime) -> Text:
    line = Text()
    hold = state.hold
    if hold is not None:
        mine = state.holder_is(view.operator)
        left = format_countdown(hold.remaining_s(server_now))
        who = f"{hold.operator} (you)" if mine else hold.operator
        line.append(f" ADMIN HOLD {who} · {left} left ", style=HOLD_STYLE)
        if mine:
            line.append(" kept alive", style="dim")
    else:
        line.append("No admin hold", style="dim")
        if not view.readonly:
            line.append(" · h to take one", style="dim")
    if view.readonly:
        line.append("  ")
        line.append(" READ-ONLY: nothing can be changed ", style="bold reverse")
    return line


class HouseHeader(Vertical):
    """The always-visible header; call :meth:`refresh_from` after the state changed.

    One widget per line, each redrawn only when its text changed: every second the clock
    (and a running countdown) moves, the rest of the header seldom does.
    """

    DEFAULT_CLASSES = "house-header"

    def __init__(self, state: ConsoleState, clock: Clock, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._state = state
        self._clock = clock
        self.operator: str | None = None
        self.readonly = False
        self.paused = False
        self._lines = (Static(), Static(), Static())
        self._drawn: list[tuple[object, ...] | None] = [None, None, None]

    def compose(self) -> ComposeResult:
        yield from self._lines

    def on_mount(self) -> None:
        self.refresh_from()

    def refresh_from(self) -> None:
        view = HeaderView(
            operator=self.operator,
            readonly=self.readonly,
            now=self._clock.now(),
            monotonic=self._clock.monotonic(),
            paused=self.paused,
        )
        top, status, bottom = header_lines(self._state, view)
        self._draw(0, top, lambda: _top_grid(*top))
        # Through Rich like the other lines (a bare Text would become Textual Content, which
        # draws the same cells but merges neighbouring spans of one style).
        self._draw(1, (status,), lambda: Group(status))
        self._draw(2, bottom, lambda: _bottom_grid(*bottom))
        self.set_class(self._state.simulated is False, "-real")
        self.set_class(not self._state.live, "-offline")

    def _draw(
        self, line: int, texts: tuple[Text, ...], renderable: Callable[[], RenderableType]
    ) -> None:
        drawn = tuple(text_looks(text) for text in texts)
        if drawn != self._drawn[line]:
            self._drawn[line] = drawn
            self._lines[line].update(renderable(), layout=False)  # always one line
