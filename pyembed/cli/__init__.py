"""The ``pyembed`` command line: one click group with subcommands.

One module per command family (``bench``, ``train``, ``eval``, ``query``, ``serve``) and one shared output
module (:mod:`pyembed.cli.output`). Heavy imports (torch, the readers) happen inside the commands,
so ``pyembed --help`` is instant and torch-free.

Errors are shown in one place (:mod:`pyembed.cli._common`): any command's failure is one line on
stderr naming the file or value at fault, with a non-zero exit code; ``--debug`` (before or after
the command name) shows the traceback instead.
"""

from __future__ import annotations

import click

from pyembed.cli._common import GuardedGroup, debug_option
from pyembed.cli.bench import bench
from pyembed.cli.eval import eval_cmd
from pyembed.cli.query import query
from pyembed.cli.serve import serve
from pyembed.cli.train import train
from pyembed.cli.train_dtn import dtn


@click.group(cls=GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyembed")
@debug_option
def main() -> None:
    """pyembed: nearest-neighbor search of embeddings and time series."""


main.add_command(bench)
train.add_command(dtn)
main.add_command(train)
main.add_command(eval_cmd)
main.add_command(query)
main.add_command(serve)
