"""The ``pyembed`` command line: one click group with subcommands.

One module per command family (``bench``, ``train``, ``eval``, ``query``) and one shared output
module (:mod:`pyembed.cli.output`). Heavy imports (torch, the readers) happen inside the commands,
so ``pyembed --help`` is instant and torch-free.
"""

from __future__ import annotations

import click

from pyembed.cli.bench import bench
from pyembed.cli.eval import eval_cmd
from pyembed.cli.query import query
from pyembed.cli.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyembed")
def main() -> None:
    """pyembed: nearest-neighbor search of embeddings and time series."""


main.add_command(bench)
main.add_command(train)
main.add_command(eval_cmd)
main.add_command(query)
