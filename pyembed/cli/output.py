"""The one output writer of the CLI: tables, CSV and JSON, written to stdout or ``--out``.

Every command renders its results through this module, so ``--format table|json|csv`` and
``--out FILE`` mean the same everywhere:

- :func:`render_table`: a ``# title`` line, a header, then one aligned line per row (the first
  column left-aligned, the others right-aligned, two spaces apart);
- :func:`render_csv`: a header and one line per row; a missing value (None) is an empty field;
- :func:`render_json`: a JSON document, indented by 2;
- :func:`render`: one of the three, by ``--format``; :func:`emit` sends text to stdout or a file;
- :func:`progress_bar`: a click progress bar on stderr, or nothing.

Only click and the standard library are imported, so ``pyembed --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = [
    "FORMATS",
    "cell",
    "emit",
    "output_options",
    "progress_bar",
    "render",
    "render_csv",
    "render_json",
    "render_table",
    "write_text",
]

FORMATS = ("table", "json", "csv")
"""The values of ``--format``."""

Row = Mapping[str, Any]
CellFormatter = Callable[[str, Any], str]
"""Turns (column key, value) into the text of one table cell."""


def cell(key: str, value: Any) -> str:
    """The default table cell: ``-`` for None, 4 decimals for floats (4 significant digits from
    10,000 on), ``str`` otherwise. ``key`` is unused; it is there for formatters that need it."""
    del key
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def render_table(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str = "",
    headers: Mapping[str, str] | None = None,
    format_cell: CellFormatter = cell,
) -> str:
    """Rows as an aligned text table.

    Parameters
    ----------
    rows : sequence of mapping
        One mapping per line; a key missing from a row reads as None.
    columns : sequence of str
        The keys shown, in order.
    title : str, default ""
        Printed first as ``# title``; no title line when empty.
    headers : mapping of str to str, optional
        Column header per key (default: the key itself).
    format_cell : callable, default :func:`cell`
        ``(key, value) -> str`` for every cell.

    Returns
    -------
    str
        The table, each line without trailing blanks, ending in a newline.
    """
    header = [(headers or {}).get(key, key) for key in columns]
    body = [[format_cell(key, row.get(key)) for key in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(columns))]
    lines = [f"# {title}"] if title else []
    for line in [header, *body]:
        cells = [
            text.ljust(width) if i == 0 else text.rjust(width)
            for i, (text, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """Rows as CSV: a header of ``columns``, then one line per row (``\\n`` line ends).

    A None value, or a key missing from a row, is an empty field; keys not in ``columns`` are
    left out.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in columns})
    return buffer.getvalue()


def render_json(document: Any) -> str:
    """``document`` as JSON, indented by 2, ending in a newline; values JSON cannot hold (paths,
    numpy scalars) are written as their ``str``."""
    return json.dumps(document, indent=2, default=str) + "\n"


def render(
    output_format: str,
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str = "",
    document: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    format_cell: CellFormatter = cell,
) -> str:
    """Rows in one of :data:`FORMATS`.

    ``table`` and ``csv`` show ``columns``; ``json`` writes ``{**document, "results": rows}``
    (every key of every row). ``title``, ``headers`` and ``format_cell`` apply to the table only.
    """
    if output_format == "json":
        return render_json({**(document or {}), "results": list(rows)})
    if output_format == "csv":
        return render_csv(rows, columns)
    if output_format == "table":
        return render_table(rows, columns, title=title, headers=headers, format_cell=format_cell)
    raise ValueError(f"output format must be one of {', '.join(FORMATS)}, got {output_format!r}")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8; failure is a one-line ``ClickException``."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def emit(text: str, out: Path | None) -> None:
    """Send ``text`` to ``out``, or to stdout when ``out`` is None (results never go to stderr)."""
    if out is None:
        click.echo(text, nl=False)
    else:
        write_text(out, text)


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--format table|json|csv`` (parameter ``output_format``) and ``--out FILE``."""
    f = click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the output to this file instead of stdout.",
    )(f)
    f = click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(f)
    return f


@contextlib.contextmanager
def progress_bar(total: int, show: bool, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar of ``total`` steps on stderr, or a no-op when ``show`` is False.

    Yields a function that advances the bar by a number of steps.
    """
    if not show:
        yield lambda _steps: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
