"""Helpers shared by the CLI commands: one-line user errors, the ``--debug`` guard, whether stderr
is a terminal (progress bars show only there unless asked for), and the options that several
commands take, so each is spelled, typed and defaulted once.

Option defaults that belong to the index (``ef``, ``max_degree``, ``ef_construction``, ``seed``,
``graph``) are read from :mod:`pyembed.index`, never written here again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
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


def debug_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--debug``: show tracebacks instead of one-line errors."""
    return click.option("--debug", is_flag=True, default=False, help="Show tracebacks of errors.")(
        f
    )


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
