"""Evaluation of untrusted upstream metadata in a forked child process under memory and CPU-time limits.

The child sends back its result (pickled) or its DebforgeError. Before each file it evaluates, it writes the file's
name to memory shared with the parent (`evaluating`), so that a child killed by a limit or a signal still gives an
error that names the file. While Starlark runs, the evaluator also checks the limits itself (`exceeded`), which
gives the file:line of the statement that ran over.

    DEBFORGE_EVAL_MEMORY   peak resident memory per evaluating process (default 4G; K, M, G suffixes); the
                           address space is capped at 1.5 times as much, for allocations made in one go
    DEBFORGE_EVAL_CPU      CPU seconds per evaluating process (default 1800)
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import mmap
import os
import pickle
import resource
import signal
import sys

from . import settings
from .errors import DebforgeError

DEFAULT_MEMORY = 4 << 30
DEFAULT_CPU = 1800
_CRUMB_SIZE = 4096
_crumb: mmap.mmap | None = None   # set in a bounded child: the file being evaluated, for the parent
_files: list[str] = []
_limits = (DEFAULT_MEMORY, DEFAULT_CPU)   # the child's


def limits() -> tuple[int, int]:
    """(memory in bytes, CPU seconds) from the environment or the defaults."""
    return (settings.size("DEBFORGE_EVAL_MEMORY", DEFAULT_MEMORY),
            settings.count("DEBFORGE_EVAL_CPU", DEFAULT_CPU, "a number of seconds"))


def gib(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB"


def memory_message(memory: int) -> str:
    return f"evaluation ran out of memory (limit {gib(memory)}): stopped"


def cpu_message(cpu: int) -> str:
    return f"evaluation ran out of CPU time (limit {cpu} s): stopped"


def exceeded() -> str | None:
    """Why this process must stop evaluating (None while it is within its limits): a getrusage() call, cheap
    enough for Starlark's periodic cancellation check."""
    if _crumb is None:
        return None
    use = resource.getrusage(resource.RUSAGE_SELF)
    memory, cpu = _limits
    if use.ru_maxrss * 1024 > memory:
        return memory_message(memory)
    if use.ru_utime + use.ru_stime > cpu:
        return cpu_message(cpu)
    return None


@contextlib.contextmanager
def evaluating(file: str):
    """The file under evaluation, as the parent reads it if the child dies (nested: a BUILD file's loads)."""
    _files.append(file)
    _mark(file)
    try:
        yield
    finally:
        _files.pop()
        _mark(_files[-1] if _files else "")


def _mark(file: str) -> None:
    if _crumb is not None:
        data = file.encode("utf-8", "replace")[:_CRUMB_SIZE - 1]
        _crumb[:len(data) + 1] = data + b"\0"


def last_file(crumb: mmap.mmap | None = None) -> str | None:
    """The file the child (or one of its scan workers) started last, if any."""
    crumb = crumb or _crumb
    return crumb[:].split(b"\0", 1)[0].decode("utf-8", "replace") or None if crumb is not None else None


def _mapped() -> int:
    """This process's address space in bytes (VmSize)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))


def run(fn, *args):
    """fn(*args) in a forked child under the limits: its result, or its DebforgeError raised here."""
    global _crumb, _limits
    memory, cpu = _limits = limits()
    crumb = mmap.mmap(-1, _CRUMB_SIZE)   # MAP_SHARED: what the child writes, the parent reads
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # the child: never returns
        os.close(rfd)
        _crumb = crumb
        _child(fn, args, wfd, memory, cpu)
    os.close(wfd)
    try:
        with os.fdopen(rfd, "rb") as pipe:
            data = pipe.read()
        _, status, use = os.wait4(pid, 0)
    except BaseException:   # e.g. ^C: the child goes too
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    file = last_file(crumb)
    crumb.close()
    if data:
        kind, value = pickle.loads(data)
        if kind == "ok":
            return value
        if kind == "error":
            raise DebforgeError(*value)
        raise value
    raise _death(status, use, file, memory, cpu)


def _child(fn, args, wfd: int, memory: int, cpu: int) -> None:
    """The child's part of run(): set the limits, run fn, send back the pickled outcome, exit."""
    os.environ["RUST_BACKTRACE"] = "0"   # a failed allocation aborts with one line, not a Rust backtrace
    faulthandler.disable()   # the parent reports a crash, naming the file: no second report from the child
    code = 0
    try:
        # on top of what the fork already maps (the parent's modules, thread arenas): that is not evaluation's
        cap = _mapped() + memory * 3 // 2
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu + 5, cpu + 10))   # SIGXCPU, then SIGKILL
        try:
            out = ("ok", fn(*args))
        except DebforgeError as exc:
            out = ("error", (exc.message, exc.file, exc.line, exc.hint))
        except BaseException as exc:   # a bug, which the parent raises as it is, unless memory ran out
            # (OSError ENOMEM: from mmap, fork or a thread's stack)
            if isinstance(exc, MemoryError) or isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
                out = ("error", (memory_message(memory), last_file(), None, None))
            else:
                out = ("raise", exc)
        try:
            data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:   # e.g. an exception that does not pickle
            data = pickle.dumps(("raise", RuntimeError(f"evaluation failed: {exc!r}")))
        with os.fdopen(wfd, "wb") as pipe:
            pipe.write(data)
    except MemoryError:
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)   # no atexit handlers, no pytest teardown in the child


def _death(status: int, use, file: str | None, memory: int, cpu: int) -> DebforgeError:
    """The error for a child that died without sending its outcome."""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL) \
            and use.ru_utime + use.ru_stime >= cpu:
        return DebforgeError(cpu_message(cpu), file)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT or os.WIFEXITED(status) \
            and os.WEXITSTATUS(status) == 3:
        return DebforgeError(memory_message(memory), file)   # Rust aborts when an allocation fails
    how = f"signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status) \
        else f"exit status {os.waitstatus_to_exitcode(status)}"
    return DebforgeError(f"evaluation stopped ({how}) with no result", file)
