"""``python -m pyembed``: the command line of :mod:`pyembed.cli`, as the ``pyembed`` script."""

from pyembed.cli import main

if __name__ == "__main__":
    main(prog_name="pyembed")
