"""Executors: run one function over many (key, argument) items, yielding results as they finish.

    with make_executor("local", workers=2) as ex:
        ex.start(fn, warm=warm_fn, warm_arg=first_case)
        for key, result in ex.imap(items): ...

- `inline` (workers=0): in this process, one item after another (debugging, tiny sweeps).
- `local` (default): worker processes on this machine, each fed one item at a time through
  its own pipe, so the driver always knows which item a worker holds. A worker that dies
  (crash, out of memory, killed) costs only that item an attempt; it is retried on a fresh
  worker and, after `max_attempts` deaths, reported as WorkerLost. Workers exit by themselves
  when the driver goes away (their pipe closes).
- `dask`: Dask distributed, on a LocalCluster when no scheduler address is given, else on
  that cluster. Dask retries items whose worker died; KilledWorker becomes WorkerLost.

Each worker runs `warm(warm_arg)` once before its first item (Numba compiles or loads its
caches there, not inside a timed point).
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import signal
import threading
import uuid
from multiprocessing.connection import wait

from archsim.errors import ArchsimError

EXECUTORS = ("local", "dask")


class WorkerLost(Exception):
    """An item whose worker process died every time it ran it."""

    def __init__(self, attempts: int, detail: str = ""):
        self.attempts = attempts
        extra = f"; {detail}" if detail else ""
        super().__init__(f"the worker running this point died {attempts} time(s) (killed, out of memory "
                         f"or a crash){extra}")


class Executor:
    kind = ""

    def __init__(self, workers: int | None = None):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
            raise ArchsimError(f"expected a non-negative number of workers, got {workers!r}", "--workers")
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.fn = self.warm = self.warm_arg = None

    def start(self, fn, warm=None, warm_arg=None) -> None:
        self.fn, self.warm, self.warm_arg = fn, warm, warm_arg

    def imap(self, items):
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"{self.kind}, {self.workers} worker(s)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InlineExecutor(Executor):
    kind = "inline"

    def __init__(self, workers=0):
        super().__init__(0)

    def describe(self) -> str:
        return "inline (this process)"

    def imap(self, items):
        if self.warm is not None:
            self.warm(self.warm_arg)
            self.warm = None
        for key, arg in items:
            yield key, self.fn(arg)


# --- local worker processes ------------------------------------------------------------------
def _worker_main(conn, fn, warm, warm_arg) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the driver's to handle
    if warm is not None:
        warm(warm_arg)
    try:
        conn.send(("ready",))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            key, arg = msg
            conn.send(("done", key, fn(arg)))
    except (EOFError, OSError):   # the driver is gone: nothing left to do
        return


class _Proc:
    def __init__(self, ctx, fn, warm, warm_arg):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, warm, warm_arg), daemon=True,
                                name="archsim-sweep-worker")
        self.proc.start()
        child.close()   # only the worker holds its end: its death reads as EOF here
        self.ready = False
        self.task = None

    def stop(self, timeout: float = 2.0) -> None:
        if self.proc.is_alive() and self.task is None:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout)
        self.conn.close()


class LocalExecutor(Executor):
    kind = "local"
    max_attempts = 3
    start_method = "spawn"   # a fresh interpreter: no threads or locks inherited from the driver

    def __init__(self, workers=None, max_attempts: int | None = None):
        super().__init__(workers)
        self.workers = max(1, self.workers)
        _local_processes(self.workers)
        if max_attempts is not None:
            self.max_attempts = max_attempts
        self._procs: list[_Proc] = []
        self.deaths = 0
        self.retries: collections.Counter = collections.Counter()   # key -> worker deaths it caused

    def describe(self) -> str:
        return f"local, {self.workers} process(es)"

    def _spawn(self) -> _Proc:
        p = _Proc(mp.get_context(self.start_method), self.fn, self.warm, self.warm_arg)
        self._procs.append(p)
        return p

    def imap(self, items):
        pending = collections.deque(items)
        attempts = self.retries
        n = min(self.workers, len(pending))
        for _ in range(n):
            self._spawn()
        ever_ready = False
        start_failures = 0
        try:
            while pending or any(p.task is not None for p in self._procs):
                for p in self._procs:
                    if p.ready and p.task is None and pending:
                        p.task = pending.popleft()
                        try:
                            p.conn.send(p.task)
                        except OSError:
                            pass   # it died; its sentinel says so below
                ready = set(wait([p.conn for p in self._procs] + [p.proc.sentinel for p in self._procs]))
                for p in list(self._procs):
                    dead = p.proc.sentinel in ready
                    if p.conn in ready or dead:
                        try:
                            while p.conn.poll():
                                msg = p.conn.recv()
                                if msg[0] == "ready":
                                    p.ready = ever_ready = True
                                else:
                                    p.task = None
                                    yield msg[1], msg[2]
                        except (EOFError, OSError):
                            dead = True
                    if not dead:
                        continue
                    # a dead worker: charge its item one attempt, then replace the worker
                    p.proc.join(1.0)
                    code = p.proc.exitcode
                    self._procs.remove(p)
                    p.conn.close()
                    self.deaths += 1
                    if p.task is not None:
                        key, arg = p.task
                        attempts[key] += 1
                        if attempts[key] >= self.max_attempts:
                            yield key, WorkerLost(attempts[key], f"last exit code {code}")
                        else:
                            pending.appendleft(p.task)
                    elif not p.ready:
                        start_failures += 1
                        if start_failures >= (3 if not ever_ready else 3 * n):
                            raise ArchsimError(f"sweep worker processes exit as they start (exit code {code}); "
                                               "see their messages above", "archsim sweep")
                    if pending and len(self._procs) < n:
                        self._spawn()
        finally:
            self.close()

    def close(self) -> None:
        procs, self._procs = self._procs, []
        for p in procs:
            p.stop()


# --- Dask distributed ------------------------------------------------------------------------
_WARM_LOCK = threading.Lock()
_WARMED = False


class _WarmThenRun:
    """The task function on Dask workers: warm once per worker process, then run."""

    def __init__(self, fn, warm, warm_arg):
        self.fn, self.warm, self.warm_arg = fn, warm, warm_arg

    def __call__(self, arg):
        global _WARMED
        if self.warm is not None and not _WARMED:
            with _WARM_LOCK:
                if not _WARMED:
                    self.warm(self.warm_arg)
                    _WARMED = True
        return self.fn(arg)


def _local_processes(n: int) -> None:
    """Processes started on this machine: each loads the simulator (a few hundred MB), and
    more than a few per core only compete for the cores."""
    cores = os.cpu_count() or 1
    if n > 4 * cores:
        raise ArchsimError(f"{n} worker processes on a machine with {cores} cores; use at most "
                           f"{4 * cores} (or a Dask cluster: --executor dask --scheduler ADDRESS)",
                           "--workers")


class DaskExecutor(Executor):
    kind = "dask"

    def __init__(self, workers=None, scheduler: str | None = None):
        super().__init__(workers)
        self.workers = max(1, self.workers)
        self.scheduler = scheduler
        if not scheduler:
            _local_processes(self.workers)
        self.client = self.cluster = None

    def describe(self) -> str:
        if self.scheduler:
            return f"dask at {self.scheduler}, {self._threads()} thread(s)"
        return f"dask LocalCluster, {self.workers} worker(s)"

    def _threads(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:   # noqa: BLE001 - only used for sizing and messages
            return self.workers

    def start(self, fn, warm=None, warm_arg=None) -> None:
        import logging

        from distributed import Client, LocalCluster

        super().start(fn, warm, warm_arg)
        try:
            if self.scheduler:
                self.client = Client(self.scheduler, timeout="20s")
            else:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self.scheduler or "a LocalCluster"
            raise ArchsimError(f"cannot start or reach the Dask scheduler: {exc}", "--scheduler", where) from None
        self._task = _WarmThenRun(fn, warm, warm_arg)

    def imap(self, items):
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        try:
            from distributed import KilledWorker
        except ImportError:   # older releases keep it in the scheduler module
            from distributed.scheduler import KilledWorker

        import dask

        allowed = int(dask.config.get("distributed.scheduler.allowed-failures", 3))
        items = iter(items)
        window = max(8, 4 * self._threads())
        keys: dict = {}
        done = as_completed()

        def submit_one() -> bool:
            try:
                key, arg = next(items)
            except StopIteration:
                return False
            fut = self.client.submit(self._task, arg, key=f"archsim-point-{key}-{uuid.uuid4().hex[:8]}",
                                     pure=False)
            keys[fut.key] = key
            done.add(fut)
            return True

        try:
            for _ in range(window):
                if not submit_one():
                    break
            for fut in done:
                key = keys.pop(fut.key)
                try:
                    result = fut.result()
                except KilledWorker:
                    result = WorkerLost(allowed + 1)
                except (FutureCancelledError, OSError, TimeoutError) as exc:
                    raise ArchsimError(f"the Dask cluster failed: {type(exc).__name__}: {exc}",
                                       "archsim sweep") from None
                fut.release()
                yield key, result
                submit_one()
        finally:
            self.close()

    def close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        for obj in (client, cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:   # noqa: BLE001 - shutting down; nothing to save
                    pass


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """`local` (0 workers: in this process) or `dask` (a LocalCluster, or `scheduler`'s cluster)."""
    if scheduler and kind != "dask":
        raise ArchsimError("--scheduler is for --executor dask", "--scheduler")
    if kind == "local":
        return InlineExecutor() if workers == 0 else LocalExecutor(workers)
    if kind == "dask":
        if workers == 0:
            raise ArchsimError("the dask executor needs at least one worker", "--workers")
        return DaskExecutor(workers, scheduler)
    raise ArchsimError(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTORS)}", "--executor")
