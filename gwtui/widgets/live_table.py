"""A DataTable whose cells change in place without redrawing the whole table.

Textual's ``DataTable.update_cell`` throws away every cached cell of the table and repaints all
of it, so a sensor table whose ages move every second re-rendered every cell of every row every
second: most of the console's CPU, and on a Pi 4 a good share of a core. :meth:`LiveTable.set_row`
instead keeps the cells whose content did not change, forgets only the cached renders of those
that did, and repaints only their regions.

It reaches into DataTable's caches (Textual is pinned); ``test_gwtui_panels`` checks that a table
changed this way draws exactly what one changed with ``update_cell`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def text_looks(text: Text) -> tuple[object, ...]:
    """What a cell draws (``Text.__eq__`` ignores the base style and justification)."""
    return (text.plain, text.style, text.justify, text.overflow, text.no_wrap, text._spans)  # noqa: SLF001


class LiveTable(DataTable[Text]):
    """A table of rich Text cells, changed in place with :meth:`set_row`."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row")
        self._stale: set[tuple[RowKey, ColumnKey]] = set()

    def set_row(self, row_key: str, cells: Mapping[str, Text]) -> None:
        """Give the row ``row_key`` these cells (by column key); only changed ones are redrawn."""
        row = RowKey(row_key)
        data = self._data.get(row)
        if data is None:
            return
        changed: list[int] = []
        for column_key, cell in cells.items():
            column = ColumnKey(column_key)
            old = data.get(column)
            if isinstance(old, Text) and text_looks(old) == text_looks(cell):
                continue
            data[column] = cell
            self._stale.add((row, column))
            changed.append(self.get_column_index(column))
        if changed:
            # One region from the first changed cell to the last: fewer regions to compute
            # and to composite than one per cell, far fewer cells sent than the whole row.
            index = self.get_row_index(row)
            first = self._get_cell_region(Coordinate(index, min(changed)))
            last = self._get_cell_region(Coordinate(index, max(changed)))
            self._refresh_region(first.union(last))

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._stale:
            self._forget_stale()
        return super().render_lines(crop)

    def _forget_stale(self) -> None:
        """Drop the cached renders of changed cells, of their rows and of every line (a line is
        only rebuilt when it is repainted, from the rows' caches, so keeping none costs little)."""
        stale, self._stale = self._stale, set()
        rows = {row for row, _ in stale}
        indexes = {self._row_locations.get(row) for row in rows}
        for cell_key in list(self._cell_render_cache.keys()):
            if (cell_key[0], cell_key[1]) in stale:
                self._cell_render_cache.discard(cell_key)
        for row_key in list(self._row_render_cache.keys()):
            if row_key[0] in rows:
                self._row_render_cache.discard(row_key)
        for renderables_key in list(self._row_renderable_cache.keys()):
            if renderables_key[1] in indexes:
                self._row_renderable_cache.discard(renderables_key)
        self._line_cache.clear()
