"""Where shards run: threads of this process (``"local"``) or Ray actors (``"ray"``).

A backend starts one :class:`~pyembed.distributed.shard.Shard` per shard and runs calls on them
in parallel; :class:`~pyembed.distributed.sharded.ShardedIndex` does the routing and merging, the
same for both. Ray is imported only by :class:`RayBackend`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pyembed.distributed.shard import Shard

#: Ray settings of every shard actor unless ``ray_options`` overrides them: a dead actor is
#: restarted (its constructor reloads the shard from the folder's manifest) up to 3 times, and a
#: call that was running or queued on it is retried up to 3 times on the restarted actor
#: (searches are idempotent; an add that lands on a restarted shard is caught by the row count).
DEFAULT_RAY_OPTIONS: dict[str, Any] = {"max_restarts": 3, "max_task_retries": 3}
_INLINE = 100_000  # bytes: Ray's default max_direct_call_object_size


class Outcome:
    """What one call on one shard gave: a value, or the error it raised (``unavailable`` when
    the shard could not answer at all: its actor died for good, or it timed out)."""

    __slots__ = ("value", "error", "unavailable")

    def __init__(
        self, value: Any = None, error: BaseException | None = None, unavailable: bool = False
    ):
        self.value = value
        self.error = error
        self.unavailable = unavailable


class LocalBackend:
    """Every shard in this process; calls on different shards run in parallel threads (the
    index releases the GIL while it works), calls on one shard in the order they were made (one
    thread per shard, as a Ray actor runs its calls)."""

    name = "local"

    def __init__(
        self, n_shards: int, spec: Sequence[dict[str, Any]], directory: str | None
    ) -> None:
        self.shards = [Shard(i, spec[i], directory) for i in range(n_shards)]
        self._pools = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pyembed-shard-{i}")
            for i in range(n_shards)
        ]

    @property
    def actors(self) -> list[Shard]:
        """The shard objects themselves."""
        return list(self.shards)

    def put(self, value: Any) -> Any:
        """Shared read-only input for many calls (here: the value itself)."""
        return value

    def call(self, shard: int, method: str, *args: Any) -> Future[Any]:
        """Start ``method(*args)`` on ``shard``."""
        return self._pools[shard].submit(getattr(self.shards[shard], method), *args)

    def wait(self, pending: Sequence[Future[Any]], timeout: float | None = None) -> list[Outcome]:
        """Outcomes of started calls, in order; ``timeout`` (seconds) bounds the whole wait."""
        return _collect(pending, timeout, lambda f, left: f.result(timeout=left), (FutureTimeout,))

    def close(self) -> None:
        """Stop the threads (waiting for running calls)."""
        for p in self._pools:
            p.shutdown(wait=True)


class RayBackend:
    """One Ray actor per shard, each holding its index in its own worker process.

    Connects with ``ray.init()`` when this process is not connected yet (Ray's default: a local
    cluster, or the one ``RAY_ADDRESS`` names); call ``ray.init(address=...)`` first to use a
    running cluster. Arrays travel through Ray's object store (zero-copy between processes of one
    machine). On a cluster of several machines, ``directory`` must be a folder every machine sees
    (shared storage): actors save and load their own shard files.
    """

    name = "ray"

    def __init__(
        self,
        n_shards: int,
        spec: Sequence[dict[str, Any]],
        directory: str | None,
        options: dict[str, Any] | None = None,
    ) -> None:
        import ray

        self._ray = ray
        if not ray.is_initialized():
            ray.init()
        opts = {**DEFAULT_RAY_OPTIONS, **(options or {})}
        remote: Any = ray.remote(Shard)
        self.shards: list[Any] = [
            remote.options(**opts).remote(i, spec[i], directory) for i in range(n_shards)
        ]
        # Wait for every actor to start (loading its shard), so a bad file fails here.
        errors = [o.error for o in self.wait([s.size.remote() for s in self.shards]) if o.error]
        if errors:
            self.close()
            raise _cause(errors[0])

    @property
    def actors(self) -> list[Any]:
        """The actors' handles (``ray.actor.ActorHandle``)."""
        return list(self.shards)

    def put(self, value: Any) -> Any:
        """Put ``value`` in the object store once, for many calls; a small array (under Ray's
        100 KB limit for arguments sent with the call) is sent with each call instead, which
        saves a store round trip (about 1.7 ms here) on one-query searches."""
        if getattr(value, "nbytes", _INLINE) < _INLINE:
            return value
        return self._ray.put(value)

    def call(self, shard: int, method: str, *args: Any) -> Any:
        """Start ``method(*args)`` on ``shard``'s actor; returns the result's reference."""
        return getattr(self.shards[shard], method).remote(*args)

    def wait(self, pending: Sequence[Any], timeout: float | None = None) -> list[Outcome]:
        """Outcomes of started calls, in order; ``timeout`` (seconds) bounds the whole wait."""
        ex = self._ray.exceptions
        gone = (ex.RayActorError, ex.ActorUnavailableError, ex.GetTimeoutError, ex.ObjectLostError)
        return _collect(
            pending, timeout, lambda ref, left: self._ray.get(ref, timeout=left), gone, _cause
        )

    def close(self) -> None:
        """Kill the actors (their shards' files, if saved, stay)."""
        for a in self.shards:
            try:
                self._ray.kill(a, no_restart=True)
            except Exception:  # already dead, or Ray shut down first
                pass


def _collect(
    pending: Sequence[Any],
    timeout: float | None,
    get: Callable[[Any, float | None], Any],
    gone: tuple[type[BaseException], ...],
    cause: Callable[[BaseException], BaseException] = lambda e: e,
) -> list[Outcome]:
    """Waits for each started call with ``get(call, seconds_left)``, in order, within one
    deadline ``timeout`` seconds away: a value, an error of ``gone`` (the shard could not answer:
    unavailable), or any other error (``cause`` of it: what the shard itself raised)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    out = []
    for call in pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            out.append(Outcome(value=get(call, left)))
        except gone as e:
            out.append(Outcome(error=e, unavailable=True))
        except Exception as e:
            out.append(Outcome(error=cause(e)))
    return out


def _cause(e: BaseException) -> BaseException:
    """The user-facing error inside a Ray task error (a ValueError raised by a shard's index
    arrives as RayTaskError(ValueError)); other errors unchanged."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, Exception) else e
