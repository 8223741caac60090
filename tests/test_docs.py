"""README and docstring examples run as written."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pyembed.index

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "vectors.nswg").exists()


def test_docstring_examples():
    failures, tried = doctest.testmod(pyembed.index)
    assert tried > 0 and failures == 0
