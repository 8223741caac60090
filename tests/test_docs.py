"""README and docstring examples run as written."""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pyembed.distributed.sharded
import pyembed.index
from pyembed.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "vectors.nswg").exists()


@pytest.mark.parametrize("module", [pyembed.index, pyembed.distributed.sharded])
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


def _readme_cli_lines() -> list[list[str]]:
    section = README.read_text().split("## The CLI\n", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                assert words[0] == "pyembed", line
                lines.append(words[1:])
    return lines


def test_readme_cli_examples_use_existing_options():
    lines = _readme_cli_lines()
    assert len(lines) >= 5
    for words in lines:
        command: click.Command = main
        rest = list(words)
        while isinstance(command, click.Group):
            command = command.commands[rest.pop(0)]
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        known.update(("--help", "-h"))
        used = {word for word in rest if word.startswith("-")}
        assert used <= known, f"pyembed {' '.join(words)}: unknown {sorted(used - known)}"


def test_readme_bench_examples_run_on_the_bundled_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the examples write (--plot) land here
    ran = 0
    for words in _readme_cli_lines():
        if words[:2] != ["bench", "ucr"] or "--data-dir" in words or "--out" in words:
            continue
        result = CliRunner().invoke(main, words)
        assert result.exit_code == 0, f"pyembed {' '.join(words)}: {result.output}"
        assert result.stdout
        ran += 1
    assert ran >= 3
