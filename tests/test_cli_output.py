"""pyembed.cli.output: the one table/CSV/JSON writer of every command."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pyembed.cli import output

ROWS = [
    {"name": "GunPoint", "error": 0.08666666, "band": None, "extra": "x"},
    {"name": "Coffee", "error": 0.0, "band": 15},
]
COLUMNS = ["name", "error", "band"]


def test_table_aligns_first_column_left_and_the_rest_right():
    text = output.render_table(ROWS, COLUMNS, title="pyembed test: k=1")
    assert text == (
        "# pyembed test: k=1\n"
        "name       error  band\n"
        "GunPoint  0.0867     -\n"
        "Coffee    0.0000    15\n"
    )


def test_table_without_title_with_headers_and_cell_formatter():
    def format_cell(key: str, value: object) -> str:
        return "full" if key == "band" and value is None else output.cell(key, value)

    text = output.render_table(ROWS, COLUMNS, headers={"error": "err"}, format_cell=format_cell)
    assert text.splitlines() == [
        "name         err  band",
        "GunPoint  0.0867  full",
        "Coffee    0.0000    15",
    ]


def test_default_cell():
    assert output.cell("k", None) == "-"
    assert output.cell("k", 0.123456) == "0.1235"
    assert output.cell("k", 123456.0) == "1.235e+05"
    assert output.cell("k", 7) == "7"
    assert output.cell("k", "text") == "text"


def test_csv_has_the_columns_in_order_and_empty_fields_for_none():
    text = output.render_csv(ROWS, COLUMNS)
    assert text.splitlines()[0] == "name,error,band"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0] == {"name": "GunPoint", "error": "0.08666666", "band": ""}  # "extra" left out
    assert rows[1]["band"] == "15"
    assert "\r" not in text


def test_json_document_and_results():
    text = output.render("json", ROWS, COLUMNS, document={"kind": "ucr", "path": Path("a/b")})
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document["kind"] == "ucr" and document["path"] == "a/b"  # paths written as text
    assert document["results"][0] == ROWS[0]  # every key, not only the table's columns
    assert json.loads(output.render_json({"a": 1})) == {"a": 1}


def test_render_dispatches_on_the_format():
    assert output.render("table", ROWS, COLUMNS, title="t").startswith("# t\nname")
    assert output.render("csv", ROWS, COLUMNS) == output.render_csv(ROWS, COLUMNS)
    with pytest.raises(ValueError, match="output format must be one of table, json, csv"):
        output.render("xml", ROWS, COLUMNS)


def _command():
    @click.command()
    @output.output_options
    def command(output_format: str, out: Path | None) -> None:
        output.emit(output.render(output_format, ROWS, COLUMNS), out)

    return command


def test_emit_writes_stdout_or_the_out_file(tmp_path: Path):
    runner = CliRunner()
    shown = runner.invoke(_command(), ["--format", "csv"])
    assert shown.exit_code == 0 and shown.stdout == output.render_csv(ROWS, COLUMNS)
    target = tmp_path / "out.json"
    written = runner.invoke(_command(), ["--format", "json", "--out", str(target)])
    assert written.exit_code == 0 and written.stdout == ""
    assert json.loads(target.read_text())["results"][1]["name"] == "Coffee"
    bad = runner.invoke(_command(), ["--format", "xml"])
    assert bad.exit_code == 2 and "'xml' is not one of 'table', 'json', 'csv'" in bad.stderr


def test_write_text_failure_is_one_click_error(tmp_path: Path):
    with pytest.raises(click.ClickException, match="cannot write"):
        output.write_text(tmp_path / "no" / "such" / "file.txt", "x")


def test_progress_bar_goes_to_stderr_only_when_shown():
    @click.command()
    @click.option("--show/--no-show")
    def command(show: bool) -> None:
        with output.progress_bar(10, show, "working") as advance:
            advance(4)
            advance(6)
        click.echo("result")

    runner = CliRunner()
    shown = runner.invoke(command, ["--show"])
    assert shown.stdout == "result\n" and "working" in shown.stderr
    hidden = runner.invoke(command, ["--no-show"])
    assert hidden.stdout == "result\n" and hidden.stderr == ""
