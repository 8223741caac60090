"""Helpers shared by the CLI commands: the one place errors become one-line messages (the
``--debug`` guard: :class:`GuardedGroup` and :class:`GuardedCommand` run every command inside
:func:`guard`), whether stderr is a terminal (progress bars show only there unless asked for), and
the options that several commands take, so each is spelled, typed and defaulted once.

Option defaults that belong to the index (``ef``, ``max_degree``, ``ef_construction``, ``seed``,
``graph``) are read from :mod:`pyembed.index`, never written here again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import click

from pyembed.index import (
    DEFAULT_EF,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_GRAPH,
    DEFAULT_MAX_DEGREE,
    DEFAULT_RESTARTS,
    DEFAULT_SEED,
)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

METRICS = ("euclidean", "dtw")
"""The values of ``--metric``, spelled as ``Index(metric=...)``."""
SEARCHES = ("graph", "exact")
"""The values of ``--search``: walk the graph, or brute force (``Index.search(exact=True)``)."""
GRAPHS = ("hnsw", "nsw")
"""The values of ``--graph``, spelled as ``Index(graph=...)``."""


_LONGEST_MESSAGE = 400
"""Characters of an error message shown without ``--debug`` (torch's run to paragraphs)."""

DEBUG_KEY = "pyembed.debug"
"""``ctx.meta`` key set by ``--debug``, given to the ``pyembed`` group or to any command."""

_TRACEBACK_SHOWN = "_pyembed_traceback_shown"
"""Attribute marking a ``ClickException`` whose traceback ``--debug`` has printed."""


def given_by_user(name: str) -> bool:
    """Whether the current command's parameter ``name`` (its Python name) was given on the
    command line (or by an environment variable), not left at its default."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (a ``KeyError``'s key without quotes).

    An ``OSError`` with a file name reads ``PATH: reason`` (``[Errno 2] No such file or directory:
    'x'`` becomes ``x: No such file or directory``). Over-long messages are cut.
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        names = os.fspath(exc.filename)
        if exc.filename2 is not None:
            names += f" -> {os.fspath(exc.filename2)}"
        text = f"{names}: {exc.strerror}"
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())
    if len(text) > _LONGEST_MESSAGE:
        text = text[: _LONGEST_MESSAGE - 5].rstrip() + " ..."
    return text


# Errors that mean "this input is wrong": what the readers, the index and the parsers raise for a
# bad file or value. They become one line; other exceptions are bugs, still one line, but say so.
_USER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # FileNotFoundError, PermissionError, IsADirectoryError, ...
    ValueError,  # the readers' errors, pyembed.IndexFormatError, UnicodeDecodeError
    TypeError,
    KeyError,
    ImportError,
    FloatingPointError,
    EOFError,  # a truncated file, from a reader that did not name it
    zipfile.BadZipFile,
)


def user_error(exc: BaseException) -> click.ClickException:
    """The one-line ``ClickException`` a command shows for ``exc`` (without ``--debug``)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name == "torch":
        return click.ClickException(
            "this command needs torch: install pyembed with the train extra (pip install "
            "'pyembed[train]')"
        )
    if isinstance(exc, _USER_ERRORS):
        return click.ClickException(one_line(exc))
    return click.ClickException(
        f"unexpected {type(exc).__name__}: {one_line(exc)} (rerun with --debug for a traceback)"
    )


def debug_requested(ctx: click.Context | None) -> bool:
    """Whether ``--debug`` was given to the group or to the command running in ``ctx``."""
    return ctx is not None and bool(ctx.meta.get(DEBUG_KEY))


@contextlib.contextmanager
def guard(ctx: click.Context | None) -> Iterator[None]:
    """Turn any error but click's own into a one-line ``ClickException``, unless ``--debug``.

    With ``--debug`` the exception propagates, so the interpreter prints its traceback; a
    ``ClickException`` (usage errors, and the one-line errors of the commands) prints its
    traceback here and keeps its exit code. ``Abort``, ``Exit``, ``KeyboardInterrupt`` and
    ``SystemExit`` pass through. A Rust panic that escapes the binding (``PanicException``, a
    ``BaseException``) is a bug and is reported as one.
    """
    try:
        yield
    except (click.exceptions.Abort, click.exceptions.Exit, KeyboardInterrupt, SystemExit):
        raise
    except click.ClickException as exc:
        if debug_requested(ctx) and not getattr(exc, _TRACEBACK_SHOWN, False):
            setattr(exc, _TRACEBACK_SHOWN, True)  # nested guards print it once
            click.echo(traceback.format_exc().rstrip(), err=True)
        if type(exc) is click.ClickException and len(exc.message.splitlines()) > 1:
            flat = click.ClickException(" ".join(exc.message.split()))  # one line, whoever wrote it
            setattr(flat, _TRACEBACK_SHOWN, getattr(exc, _TRACEBACK_SHOWN, False))
            raise flat from None
        raise
    except BaseException as exc:
        if debug_requested(ctx):
            raise
        raise user_error(exc) from None


class PathArgumentError(click.ClickException):
    """A path argument that does not exist or is the wrong kind (a file where a directory is
    expected, or the reverse): click's parameter error (exit 2), shown as one line without the
    usage text, like every other file problem."""

    exit_code = 2


def _parse_args_one_line(
    parse: Callable[[click.Context, list[str]], list[str]], ctx: click.Context, args: list[str]
) -> list[str]:
    try:
        return parse(ctx, args)
    except click.BadParameter as exc:
        if exc.param is not None and isinstance(exc.param.type, click.Path):
            raise PathArgumentError(exc.format_message()) from None
        raise


class GuardedCommand(click.Command):
    """A command whose errors are shown as one line (see :func:`guard`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return _parse_args_one_line(super().parse_args, ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with guard(ctx):
            return super().invoke(ctx)


class GuardedGroup(click.Group):
    """A group whose commands and sub-groups are guarded too (see :func:`guard`)."""

    command_class = GuardedCommand
    group_class = type  # sub-groups are GuardedGroups

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return _parse_args_one_line(super().parse_args, ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with guard(ctx):
            return super().invoke(ctx)


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG_KEY] = True


def debug_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--debug``: show tracebacks instead of one-line errors (``pyembed --debug CMD`` and
    ``pyembed CMD --debug`` mean the same)."""
    return click.option(
        "--debug",
        is_flag=True,
        default=False,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show tracebacks of errors.",
    )(f)


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def metric_option(default: str) -> Decorator:
    """``--metric euclidean|dtw``."""
    return click.option(
        "--metric",
        type=click.Choice(METRICS),
        default=default,
        show_default=True,
        help="Euclidean distance or dynamic time warping (Sakoe-Chiba band, see --band).",
    )


def search_option(default: str) -> Decorator:
    """``--search graph|exact``."""
    return click.option(
        "--search",
        type=click.Choice(SEARCHES),
        default=default,
        show_default=True,
        help="graph: walk the index's graph (see --graph); exact: brute force with the same "
        "distance code (lower-bound pruning for DTW).",
    )


def graph_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--graph hnsw|nsw``, default the index's."""
    return click.option(
        "--graph",
        type=click.Choice(GRAPHS),
        default=DEFAULT_GRAPH,
        show_default=True,
        help="Graph the index builds: hnsw (layers above the graph, searched from the top) or nsw "
        "(the flat navigable small world graph, searched from random entry points).",
    )(f)


def crop_option(default: float, help: str) -> Decorator:
    """``--crop``: the centre crop of face images, a fraction in (0, 1]
    (:func:`pyembed.datasets.images.face_crop`)."""
    return click.option(
        "--crop",
        type=click.FloatRange(0.0, 1.0, min_open=True),
        default=default,
        show_default=True,
        help=help + " The side of the kept box as a fraction of the largest centred box with "
        "the model's aspect ratio.",
    )


def k_option(default: int, help: str) -> Decorator:
    """``-k/--k``: neighbors per query."""
    return click.option(
        "-k", "--k", "k", type=click.IntRange(min=1), default=default, show_default=True, help=help
    )


def threads_option(help: str) -> Decorator:
    """``--threads``: a number of threads, default None (the command says what None means)."""
    return click.option("--threads", type=click.IntRange(min=1), default=None, help=help)


def seed_option(help: str) -> Decorator:
    """``--seed``, default the index's seed."""
    return click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help=help)


def ef_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--ef``: the graph search beam; default None (the index's)."""
    return click.option(
        "--ef",
        type=click.IntRange(min=1),
        default=None,
        help=f"--search graph: candidate beam width of each greedy search (the search uses "
        f"max(ef, k)); default {DEFAULT_EF}.",
    )(f)


def restarts_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--restarts``: greedy searches per query; default None (the index's)."""
    return click.option(
        "--restarts",
        type=click.IntRange(min=1),
        default=None,
        help="--search graph: greedy searches per query, merged (the first from the graph's "
        f"natural entry, the rest from random nodes); default {DEFAULT_RESTARTS}.",
    )(f)


def build_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-degree`` and ``--ef-construction``, defaults the index's."""
    f = click.option(
        "--ef-construction",
        type=click.IntRange(min=1),
        default=DEFAULT_EF_CONSTRUCTION,
        show_default=True,
        help="Graph build: candidate beam width while inserting.",
    )(f)
    f = click.option(
        "--max-degree",
        type=click.IntRange(min=2),
        default=DEFAULT_MAX_DEGREE,
        show_default=True,
        help="Graph build: neighbors kept per node (M).",
    )(f)
    return f
