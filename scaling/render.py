"""Rendering in one place: a table model turned into aligned text, Markdown or HTML, and JSON-safe values.

A `Table` is headers + rows + notes (already formatted strings: the caller decides units and digits). The
CLI prints ``table.text()``, reports write ``table.markdown()`` / ``table.html()``, notebooks show the
same. A table without headers is a list of ``label  value`` pairs (see `key_values`). `json_safe` turns a
result's ``to_dict()`` into something strict JSON accepts (NaN and infinity become null, numpy scalars and
arrays become Python numbers and lists).
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    """Rows of already-formatted cells, optional headers and a title, and notes printed under the table.

    ``align`` has one letter per column, ``l`` or ``r``; by default the first column is left-aligned (labels)
    and the others right-aligned (numbers).
    """

    rows: tuple[tuple[str, ...], ...]
    headers: tuple[str, ...] = ()
    title: str = ""
    notes: tuple[str, ...] = ()
    align: str = ""

    @classmethod
    def of(
        cls,
        rows: Iterable[Sequence[Any]],
        headers: Sequence[Any] = (),
        *,
        title: str = "",
        notes: Iterable[str] = (),
        align: str = "",
    ) -> Table:
        """A table from any rows of values (each cell becomes ``str(value)``)."""
        return cls(
            rows=tuple(tuple(str(c) for c in row) for row in rows),
            headers=tuple(str(h) for h in headers),
            title=title,
            notes=tuple(notes),
            align=align,
        )

    def _left(self, column: int) -> bool:
        return self.align[column] == "l" if column < len(self.align) else column == 0

    def _widths(self) -> list[int]:
        lines = ([self.headers] if self.headers else []) + list(self.rows)
        count = max((len(r) for r in lines), default=0)
        return [max((len(r[i]) for r in lines if i < len(r)), default=0) for i in range(count)]

    def text(self, indent: int = 0, width: int | None = None, wrap: bool = True) -> str:
        """Aligned plain text (two spaces between columns, a dashed rule under the headers), at most ``width``
        characters wide (default `TEXT_WIDTH`): a wider row wraps its last left-aligned column (a value, a
        source, a note) onto more lines, so nothing is cut, and notes wrap too; with ``wrap=False`` that
        column is shortened at a word instead, ending in "…" (catalog listings, one line a row)."""
        width = TEXT_WIDTH if width is None else width
        pad = " " * indent
        widths = self._widths()
        title = textwrap.wrap(self.title, width - indent) if wrap and width else [self.title]
        lines = [pad + t for t in title] if self.title else []
        cut = None
        if width is not None and widths:
            excess = indent + sum(widths) + 2 * (len(widths) - 1) - width
            left = [i for i in range(1, len(widths)) if self._left(i)]
            if excess > 0 and left:
                cut = left[-1]
                header = len(self.headers[cut]) if cut < len(self.headers) else 0
                widths[cut] = max(widths[cut] - excess, header, 8)

        def one(cells: Sequence[str]) -> str:
            parts = [c.ljust(widths[i]) if self._left(i) else c.rjust(widths[i]) for i, c in enumerate(cells)]
            return (pad + "  ".join(parts)).rstrip()

        def line(cells: Sequence[str]) -> str:
            if cut is None or cut >= len(cells):
                return one(cells)
            if not wrap:
                return one([_shorten(c, widths[i]) if i == cut else c for i, c in enumerate(cells)])
            pieces = textwrap.wrap(cells[cut], widths[cut], break_on_hyphens=False) or [""]
            first = one([pieces[0] if i == cut else c for i, c in enumerate(cells)])
            blank = [""] * len(cells)
            return "\n".join([first] + [one(blank[:cut] + [p] + blank[cut + 1 :]) for p in pieces[1:]])

        if self.headers:
            lines.append(line(self.headers))
            lines.append(pad + "  ".join("-" * w for w in widths))
        lines.extend(line(row) for row in self.rows)
        for note in self.notes:
            room = (width - indent) if (wrap and width) else None
            lines.extend(pad + n for n in (textwrap.wrap(note, room) if room else [note]))
        return "\n".join(lines)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table (a blank header row when the table has none)."""
        width = max([len(self.headers)] + [len(r) for r in self.rows] + [1])
        headers = list(self.headers) + [""] * (width - len(self.headers))

        def line(cells: Sequence[str]) -> str:
            cells = list(cells) + [""] * (width - len(cells))
            return "| " + " | ".join(_md_escape(c) for c in cells) + " |"

        rule = "| " + " | ".join(":--" if self._left(i) else "--:" for i in range(width)) + " |"
        lines = [f"### {_md_escape(self.title)}", ""] if self.title else []
        lines += [line(headers), rule] + [line(row) for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {_md_escape(note)}" for note in self.notes]
        return "\n".join(lines)

    def html(self) -> str:
        """An HTML ``<table>`` (numbers right-aligned through the ``num`` class), notes in a list below."""
        parts = [f"<h3>{html.escape(self.title)}</h3>"] if self.title else []
        parts.append("<table>")
        if self.headers:
            parts.append(
                "<tr>" + "".join(self._cell("th", h, i) for i, h in enumerate(self.headers)) + "</tr>"
            )
        for row in self.rows:
            parts.append("<tr>" + "".join(self._cell("td", c, i) for i, c in enumerate(row)) + "</tr>")
        parts.append("</table>")
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)

    def _cell(self, tag: str, text: str, column: int) -> str:
        css = "" if self._left(column) else " class='num'"
        return f"<{tag}{css}>{html.escape(text)}</{tag}>"


# The widest a CLI table prints (a terminal of 120 columns); longer cells end in "…" (`Table.text`).
TEXT_WIDTH = 120


def _shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: cut at the last space in its final third, else mid-word, and
    "…" added."""
    if len(text) <= width:
        return text
    head = text[: width - 1]
    space = head.rfind(" ")
    if space >= (2 * width) // 3:
        head = head[:space]
    return head.rstrip(" ,;:(") + "…"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(
    rows: Iterable[Sequence[Any]],
    headers: Sequence[Any] | None = None,
    indent: int = 0,
    *,
    align: str = "",
    width: int | None = TEXT_WIDTH,
) -> str:
    """Aligned text for rows of values, at most ``width`` characters wide: ``Table.of(rows, headers,
    align=align).text(indent, width)``."""
    return Table.of(rows, headers or (), align=align).text(indent, width, wrap=False)


def key_values(pairs: Iterable[tuple[Any, Any]], indent: int = 2) -> str:
    """``label  value`` lines, aligned: a two-column table without headers, its values wrapped within
    `TEXT_WIDTH` columns."""
    return Table.of(pairs, align="ll").text(indent)


def json_safe(value: Any) -> Any:
    """``value`` with NaN/infinity as None, numpy scalars/arrays as Python numbers/lists, tuples as lists,
    and dict keys as strings, so ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return json_safe(value.tolist())
    return value


def fmt_interval(
    low: float | None,
    high: float | None,
    fmt: Callable[[float], str] = lambda x: f"{x:.3g}",
    level: float | None = None,
) -> str:
    """An interval as ``low - high`` in the given format, prefixed by ``80% interval`` when ``level`` is
    given; ``""`` when either end is missing or not finite (callers append it to the point estimate)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    prefix = f"{round(level * 100)}% interval " if level is not None else ""
    return f"{prefix}{fmt(low)} - {fmt(high)}"


# ================================================================================== notebook display
def flat_values(value: Any, prefix: str = "") -> dict[str, Any]:
    """A result's ``to_dict()`` as one level of ``dotted.keys`` (lists as ``key[0]``), JSON-safe: the
    columns of `Displayable.to_series` and the rows of its value table."""
    value = json_safe(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat_values(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        out = {}
        for i, item in enumerate(value):
            out.update(flat_values(item, f"{prefix}[{i}]"))
        return out
    return {prefix or "value": value}


def exact_text(value: Any) -> str:
    """A number exactly as ``to_dict()`` holds it (the shortest text that reads back to the same float)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return ", ".join(exact_text(v) for v in value)
    return str(value)


def unit_text(key: str, value: Any) -> str:
    """A value in the unit its key names: ``*_bytes`` in GiB, ``*flops*`` in FLOPs, ``*usd*`` in dollars,
    ``*seconds``/``*_s`` as a duration, parameter and token counts as 7B/1.4T,
    ``mfu``/``hfu`` as percentages."""
    from scaling import units

    name = key.rsplit(".", 1)[-1].split("[", 1)[0].lower()
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return " - ".join(unit_text(key, v) for v in value)  # an interval in its unit: 58.2B - 90.4B
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return exact_text(value)
    rules = (
        (name.endswith("bytes"), lambda v: units.format_bytes(v)),
        ("flops" in name and "per" not in name, units.format_flops),
        ("usd" in name, units.format_usd),
        (name == "seconds" or name.endswith("_seconds") or name.endswith("_s"), units.format_duration),
        (name in ("mfu", "hfu") or name.endswith(("_mfu", "_hfu", "fraction")), units.format_fraction),
        (name.endswith(("params", "tokens", "parameters")), units.format_count),
    )
    for matches, fmt in rules:
        if matches and value >= 0:
            return fmt(value)
    return f"{value:,.4g}" if abs(value) >= 1e4 or isinstance(value, float) else str(value)


def value_table(values: dict[str, Any], title: str = "") -> Table:
    """Every value of a ``to_dict()``: the key, the value in its unit, and the exact base-unit number."""
    rows = [
        (key, unit_text(key, value), "" if isinstance(value, str) else exact_text(value))
        for key, value in flat_values(values).items()
    ]
    return Table.of(rows, ("quantity", "value", "to_dict() (base units)"), title=title, align="lrr")


class Displayable:
    """Rich display in Jupyter for a result with ``to_dict()``: `_repr_html_` and `_repr_markdown_` render
    the result's own tables (``display_tables()``, the tables the CLI prints, when the class has them) through
    `Table`, followed by every value of ``to_dict()`` in its unit and exactly, so what the notebook shows is
    what the JSON holds. `to_series` / `to_frame` give the same values to pandas."""

    def display_tables(self) -> list[Table]:
        """The result's own tables; a class with a CLI table overrides this."""
        return []

    def _display_title(self) -> str:
        name = getattr(self, "name", None) or getattr(self, "model", None)
        return f"{type(self).__name__}: {name}" if isinstance(name, str) and name else type(self).__name__

    def _repr_html_(self) -> str:
        own = self.display_tables()
        values = value_table(
            self.to_dict(),  # type: ignore[attr-defined]
            title="" if own else self._display_title(),
        )
        if not own:
            return f"<div class='scaling-result'>{values.html()}</div>"
        body = "\n".join(t.html() for t in own)
        return (
            f"<div class='scaling-result'>{body}<details><summary>every value (base units, as to_dict())"
            f"</summary>{values.html()}</details></div>"
        )

    def _repr_markdown_(self) -> str:
        own = self.display_tables()
        values = value_table(
            self.to_dict(),  # type: ignore[attr-defined]
            title="Values (base units, as to_dict())",
        )
        return "\n\n".join([t.markdown() for t in own] + [values.markdown()])

    def to_series(self) -> Any:
        """The flattened ``to_dict()`` as a pandas Series (dotted keys)."""
        import pandas as pd

        values = flat_values(self.to_dict())  # type: ignore[attr-defined]
        return pd.Series(values, name=self._display_title())

    def to_frame(self) -> Any:
        """One row per result: ``to_series()`` as a one-row DataFrame, so results concatenate into a table."""
        return self.to_series().to_frame().T.infer_objects()
