"""The ``pyembed`` command line: one click group with subcommands.

Heavy imports (the index, torch) happen inside the commands, so ``pyembed --help`` is instant.
"""

from __future__ import annotations

import click

from pyembed.cli.bench import bench
from pyembed.cli.train import eval_cmd, query, train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyembed")
def main() -> None:
    """pyembed: nearest-neighbor search of embeddings and time series."""


main.add_command(bench)
main.add_command(train)
main.add_command(eval_cmd)
main.add_command(query)
