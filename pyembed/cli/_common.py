"""Helpers shared by the CLI commands: one-line user errors, the ``--debug`` guard, and whether
stderr is a terminal (progress bars show only there unless asked for)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a ``KeyError``'s key without quotes)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    return " ".join(text.split())


def run_guarded(debug: bool, body: Callable[[], None]) -> None:
    """Run a command body; user errors become one-line ``ClickException``s unless ``--debug``."""
    try:
        body()
    except click.ClickException:
        raise
    except ModuleNotFoundError as exc:
        if debug:
            raise
        if exc.name == "torch":
            raise click.ClickException(
                "this command needs torch: install pyembed with the train extra (pip install "
                "'pyembed[train]')"
            ) from None
        raise click.ClickException(one_line(exc)) from None
    except (ValueError, OSError, TypeError, KeyError, ImportError, FloatingPointError) as exc:
        if debug:
            raise
        raise click.ClickException(one_line(exc)) from None
    except Exception as exc:  # a bug; still one line unless --debug
        if debug:
            raise
        raise click.ClickException(
            f"unexpected {type(exc).__name__}: {one_line(exc)} (rerun with --debug for a traceback)"
        ) from None


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())
