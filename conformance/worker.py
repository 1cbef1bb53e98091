r"""Where rows are measured: in worker processes, each row within a time limit.

A backend named by an :class:`~trainspec.conformance.discovery.AdapterRef` runs in worker
processes started with ``multiprocessing``'s ``spawn`` method (a fresh interpreter: frameworks
such as JAX and TensorFlow are not safe to fork once imported). A worker imports the adapter once,
reports its :class:`Manifest` (versions, devices, implementations, and what failed), then
measures one row per task with :func:`~trainspec.conformance.runner.check_row` and sends the row
back. The parent waits for each row at most ``timeout`` seconds: a worker that does not answer
in time is killed, one that dies (a segfault, ``os._exit``, the kernel's out-of-memory killer) is
noticed at once; either way the row becomes an ``error`` row that says which, and the next row
runs in a fresh worker. A worker that dies on a row after measuring others may have been brought
down by what those rows left in the process (a framework's native state): the row is measured
once more in a fresh worker, and keeps that measurement with a note of the first worker's death
in its message; if the fresh worker dies too, the row is an ``error`` row that says so. Workers ignore SIGINT: a Ctrl-C reaches the parent, which stops them.

A framework keeps what it compiled, traced or cached for the life of the process (JAX's
compilation caches grow with every shape a row draws), so a worker's memory grows row after row.
Each worker reports its resident memory after each row; one above ``memory_limit`` bytes
(``--worker-memory``) is stopped and the next row starts a fresh one. This bounds a backend's
memory by the limit plus what one row needs, and changes no row: each row seeds its draws and the
framework's generator itself, whichever process measures it.

An :class:`~trainspec.conformance.adapter.Adapter` object is checked in this process instead
(:class:`InProcessExecutor`; no time limit): the kit's own tests and the pytest plugin do so.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from trainspec.conformance.adapter import Adapter
from trainspec.conformance.discovery import AdapterRef, validate_implementations
from trainspec.conformance.runner import Row, check_row, describe_error, replay_command

__all__ = [
    "DEFAULT_WORKER_MEMORY",
    "RETRIED",
    "ImplInfo",
    "InProcessExecutor",
    "Manifest",
    "WorkerExecutor",
    "make_executor",
    "resident_bytes",
]

#: a row to measure: (plan index, spec ID, implementation name, device, dtype)
Task = tuple[int, str, str, str, str]

#: the default ``memory_limit`` of a worker process: 1.5 GiB resident after a row
DEFAULT_WORKER_MEMORY = 1536 * 2**20


def resident_bytes() -> int:
    """This process's resident memory in bytes: the current figure where the system gives it
    (Linux's ``/proc/self/statm``), else the peak so far (``getrusage``, which only overstates),
    else 0 (unknown: no worker is replaced for its memory)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource  # not on Windows
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes; else KiB


@dataclass(frozen=True)
class ImplInfo:
    """What the parent needs to know of an implementation to plan its rows."""

    spec_id: str
    name: str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]


@dataclass
class Manifest:
    """What a backend reported when it was loaded.

    ``loaded`` is ``False`` when the framework is not installed (the backend then has no rows,
    only its status); ``impls`` is ``None`` when the implementations are unknown (the adapter
    failed to load, ``versions()`` / ``devices()`` / ``implementations()`` raised, or the adapter
    declares something the kit cannot check), and the backend then has one ``error`` row.
    ``prepare_errors`` maps a device whose ``prepare_device`` raised to the error: each of its
    rows is an ``error`` row."""

    status: str = "ok"
    loaded: bool = True
    versions: dict[str, str] = field(default_factory=dict)
    available: list[str] = field(default_factory=list)
    impls: list[ImplInfo] | None = None
    prepare_errors: dict[str, str] = field(default_factory=dict)

    def devices(self) -> list[str]:
        return list(self.available)

    def implementations(self) -> list[ImplInfo]:
        return list(self.impls or [])


def build_manifest(
    load: Callable[[], Adapter], devices: Sequence[str]
) -> tuple[Adapter | None, Manifest]:
    """Load the adapter, ask it everything the plan needs, prepare the requested devices."""
    m = Manifest()
    try:
        adapter = load()
    except ModuleNotFoundError as exc:
        return None, Manifest(status=f"not installed: {exc}", loaded=False)
    except Exception as exc:
        m.status = f"error: the adapter failed to load: {describe_error(exc)}"
        return None, m
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("versions()", adapter.versions),
        ("devices()", adapter.devices),
        ("implementations()", adapter.implementations),
    ]
    got: dict[str, Any] = {}
    for what, call in steps:
        try:
            got[what] = call()
        except Exception as exc:
            m.status = f"error: {what} failed: {describe_error(exc)}"
            return adapter, m
    m.versions = {str(k): str(v) for k, v in got["versions()"].items()}
    m.available = list(got["devices()"])
    impls = got["implementations()"]
    problems = validate_implementations(impls)
    if problems:
        m.status = "error: adapter rejected: " + "; ".join(problems)
        return adapter, m
    m.impls = [ImplInfo(i.spec_id, i.name, tuple(i.dtypes), tuple(i.devices)) for i in impls]
    for device in devices:
        if device not in m.available:
            continue
        try:
            adapter.prepare_device(device)
        except Exception as exc:
            m.prepare_errors[device] = f"prepare_device({device!r}) failed: {describe_error(exc)}"
    if m.prepare_errors:
        m.status = "error: " + "; ".join(v.splitlines()[0] for v in m.prepare_errors.values())
    return adapter, m


class _Measurer:
    """Measures rows of one loaded adapter (in a worker, or in this process)."""

    def __init__(self, name: str, adapter: Adapter, package: str) -> None:
        from trainspec import reference

        self.name, self.package, self._reference = name, package, reference
        self.impls = {(i.spec_id, i.name): i for i in adapter.implementations()}

    def measure(self, task: Task, profile: str, seed_: int) -> Row:
        _, spec_id, impl_name, device, dtype = task
        impl = self.impls[(spec_id, impl_name)]
        return check_row(
            self._reference.get(spec_id),
            impl,
            self.name,
            dtype,
            device,
            profile=profile,
            seed_=seed_,
            package=self.package,
        )


class InProcessExecutor:
    """An adapter object, checked in this process (no time limit, no isolation)."""

    def __init__(self, name: str, adapter: Adapter, devices: Sequence[str]) -> None:
        self.name, self.adapter, self.devices = name, adapter, list(devices)
        self.package = ""
        self.environment = "this process"
        self._measurer: _Measurer | None = None

    def start(self) -> Manifest:
        _, m = build_manifest(lambda: self.adapter, self.devices)
        if m.impls is not None:
            self._measurer = _Measurer(self.name, self.adapter, self.package)
        return m

    def run_all(
        self,
        tasks: Sequence[Task],
        *,
        profile: str,
        seed_: int,
        on_row: Callable[[int, Row], None],
    ) -> None:
        assert self._measurer is not None
        for task in tasks:
            try:
                row = self._measurer.measure(task, profile, seed_)
            except Exception as exc:  # a kit bug must not hide the other rows either
                row = Row(task[1], self.name, task[2], task[3], task[4], "error")
                row.message = describe_error(exc)
                row.repro = replay_command(self.name, *task[1:], profile, seed_)
            on_row(task[0], row)

    def close(self) -> None:
        pass


def _worker_main(
    conn: Connection, ref: AdapterRef, devices: list[str], hypothesis_dir: str | None
) -> None:  # pragma: no cover - runs in the worker process
    """The worker: load the adapter, send the manifest, then measure rows until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops workers
    if hypothesis_dir is not None:
        from hypothesis.configuration import set_hypothesis_home_dir

        set_hypothesis_home_dir(hypothesis_dir)
    adapter, manifest = build_manifest(ref.load, devices)
    conn.send(manifest)
    if adapter is None or manifest.impls is None:
        return
    measurer = _Measurer(ref.name, adapter, ref.package)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        task, profile, seed_ = msg
        try:
            row = measurer.measure(task, profile, seed_)
        except Exception as exc:
            row = Row(task[1], ref.name, task[2], task[3], task[4], "error")
            row.message = describe_error(exc)
            _, spec_id, impl_name, device, dtype = task
            row.repro = replay_command(
                ref.name, spec_id, impl_name, dtype, device, profile, seed_, package=ref.package
            )
        conn.send((row.to_json(), resident_bytes()))


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode).name
        except ValueError:
            sig = f"signal {-exitcode}"
        why = {
            "SIGKILL": " (killed: the kernel's out-of-memory killer sends SIGKILL)",
            "SIGSEGV": " (a crash in native code)",
            "SIGABRT": " (aborted by native code)",
        }.get(sig, "")
        return f"the worker process died of {sig}{why} while measuring this row"
    return f"the worker process exited with code {exitcode} while measuring this row"


#: the words that mark a row measured again in a fresh worker, in its message (the report looks
#: for them: :func:`~trainspec.conformance.report.retried_note`)
RETRIED = "measured again in a fresh worker"


def _joined(message: str | None, note: str) -> str:
    """A row's own ``message`` (if any), then ``note``."""
    return f"{message} | {note}" if message else note


class _Slot:
    """One worker process and the task it is measuring."""

    def __init__(self) -> None:
        self.proc: Any = None
        self.conn: Connection | None = None
        self.task: Task | None = None
        self.deadline = 0.0
        self.started = 0.0
        #: rows this worker process has measured (0: a fresh worker)
        self.rows_done = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def stop(self) -> None:
        """Ask an idle worker to exit, then make sure it has."""
        if self.alive and self.conn is not None:
            try:
                self.conn.send(None)
                self.proc.join(2)
            except (OSError, ValueError):
                pass
        self.kill()

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(10)
        if self.conn is not None:
            self.conn.close()
        self.proc, self.conn, self.task = None, None, None
        self.rows_done = 0


class WorkerExecutor:
    """A backend in ``jobs`` worker processes (see the module docstring)."""

    def __init__(
        self,
        ref: AdapterRef,
        devices: Sequence[str],
        *,
        timeout: float,
        jobs: int = 1,
        hypothesis_dir: str | None = None,
        memory_limit: int | None = DEFAULT_WORKER_MEMORY,
    ) -> None:
        if memory_limit is not None and memory_limit <= 0:
            raise ValueError(f"memory_limit={memory_limit!r}: must be a positive number of bytes")
        self.ref, self.name, self.devices = ref, ref.name, list(devices)
        self.timeout, self.hypothesis_dir = timeout, hypothesis_dir
        self.memory_limit = memory_limit
        #: workers stopped because their memory passed ``memory_limit``
        self.replaced_for_memory = 0
        #: the largest resident memory a worker reported after a row, in bytes
        self.peak_resident = 0
        self.package, self.environment = ref.package, ref.environment
        self.slots = [_Slot() for _ in range(jobs)]
        self._ctx = multiprocessing.get_context("spawn")

    def _spawn(self, slot: _Slot) -> Manifest:
        """Start a worker in ``slot``; its manifest (a failed start is a manifest that says why)."""
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self.ref, self.devices, self.hypothesis_dir),
            name=f"trainspec-{self.name}",
            daemon=True,
        )
        proc.start()
        child.close()
        slot.proc, slot.conn = proc, parent
        ready = wait([parent, proc.sentinel], timeout=self.timeout)
        if parent in ready:
            try:
                manifest: Manifest = parent.recv()
            except EOFError:
                manifest = None  # type: ignore[assignment]
            else:
                if manifest.impls is None:
                    slot.kill()
                return manifest
        if ready:
            proc.join(5)
            why = _death(proc.exitcode).replace("measuring this row", "loading the adapter")
        else:
            why = f"no answer within {self.timeout:g} s (--timeout)"
        slot.kill()
        return Manifest(status=f"error: the worker that loads the adapter failed: {why}")

    def start(self) -> Manifest:
        return self._spawn(self.slots[0])

    def run_all(
        self,
        tasks: Sequence[Task],
        *,
        profile: str,
        seed_: int,
        on_row: Callable[[int, Row], None],
    ) -> None:
        """Measure ``tasks`` in the worker processes; ``on_row(index, row)`` as each finishes."""
        pending = deque(tasks)
        #: plan index -> how the worker that first measured the task died (it is measured again)
        first_death: dict[int, str] = {}

        def failed(task: Task, message: str, seconds: float) -> None:
            first = first_death.pop(task[0], None)
            if first is not None:
                message += f" ({RETRIED}: the first worker {first})"
            row = Row(task[1], self.name, task[2], task[3], task[4], "error", message=message)
            row.seconds = seconds
            _, spec_id, impl_name, device, dtype = task
            row.repro = replay_command(
                self.name, spec_id, impl_name, dtype, device, profile, seed_, package=self.package
            )
            on_row(task[0], row)

        while pending or any(s.task is not None for s in self.slots):
            for slot in self.slots:
                if slot.task is not None or not pending:
                    continue
                task = pending.popleft()
                if task[0] in first_death and slot.rows_done > 0:
                    slot.kill()  # a task measured again gets a fresh worker, whichever slot
                if not slot.alive:
                    slot.kill()
                    manifest = self._spawn(slot)
                    if manifest.impls is None or not slot.alive:
                        failed(task, f"a fresh worker could not start: {manifest.status}", 0.0)
                        continue
                assert slot.conn is not None
                slot.conn.send((task, profile, seed_))
                slot.task, slot.started = task, time.monotonic()
                slot.deadline = slot.started + self.timeout
            busy = [s for s in self.slots if s.task is not None]
            if not busy:
                continue
            now = time.monotonic()
            waitables: list[Any] = [s.conn for s in busy] + [s.proc.sentinel for s in busy]
            wait(waitables, timeout=max(0.0, min(s.deadline for s in busy) - now))
            now = time.monotonic()
            for slot in busy:
                assert slot.conn is not None and slot.task is not None
                task = slot.task
                try:
                    has_row = slot.conn.poll()
                    answer = slot.conn.recv() if has_row else None
                except (EOFError, OSError):
                    answer = None
                if answer is not None:
                    row_json, resident = answer
                    slot.task = None
                    slot.rows_done += 1
                    self.peak_resident = max(self.peak_resident, resident)
                    if self.memory_limit is not None and resident > self.memory_limit:
                        self.replaced_for_memory += 1
                        slot.stop()  # the next row starts a fresh worker
                    row = Row.from_json(row_json)
                    if task[0] in first_death:
                        # after the row's own message: readers match how that one starts
                        row.message = _joined(
                            row.message, f"{RETRIED}: the first worker {first_death.pop(task[0])}"
                        )
                    on_row(task[0], row)
                elif not slot.proc.is_alive():
                    slot.proc.join(1)
                    code, after = slot.proc.exitcode, slot.rows_done
                    slot.kill()
                    if after > 0 and task[0] not in first_death:
                        first_death[task[0]] = (
                            _death(code)
                            .removeprefix("the worker process ")
                            .replace(
                                "while measuring this row",
                                f"while measuring this row, after {after} other "
                                f"row{'s' if after != 1 else ''}",
                            )
                        )
                        pending.appendleft(task)
                        continue
                    again = task[0] in first_death
                    failed(
                        task,
                        _death(code)
                        + (" in a fresh worker too" if again else "")
                        + "; the next row runs in a fresh worker",
                        now - slot.started,
                    )
                elif now >= slot.deadline:
                    slot.kill()
                    failed(
                        task,
                        f"time limit: no result within {self.timeout:g} s (--timeout); the "
                        "worker was stopped and the next row runs in a fresh one",
                        now - slot.started,
                    )

    def close(self) -> None:
        for slot in self.slots:
            if slot.task is None:
                slot.stop()
            slot.kill()


def make_executor(
    name: str,
    adapter: Adapter | AdapterRef,
    *,
    devices: Sequence[str],
    timeout: float,
    jobs: int = 1,
    hypothesis_dir: str | None = None,
    memory_limit: int | None = DEFAULT_WORKER_MEMORY,
) -> InProcessExecutor | WorkerExecutor:
    """A worker-process executor for a ref, an in-process one for an adapter object."""
    if isinstance(adapter, AdapterRef):
        return WorkerExecutor(
            adapter,
            devices,
            timeout=timeout,
            jobs=jobs,
            hypothesis_dir=hypothesis_dir,
            memory_limit=memory_limit,
        )
    return InProcessExecutor(name, adapter, devices)
