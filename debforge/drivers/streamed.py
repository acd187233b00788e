"""A long-running tool (dpkg-buildpackage, sbuild, ninja) whose output debforge reads line by line, and which stops
when debforge does."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def streamed(argv: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    """The tool started with its output (stderr too) on a text pipe. Interrupted (Ctrl-C, or the SIGTERM that
    debforge's main turns into the same), debforge sends it SIGTERM and waits for it: a build of hours must not run
    on, holding the CPU, after the command that started it (sbuild removes its chroot on SIGTERM)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    try:
        yield proc
    except BaseException:
        proc.terminate()
        raise
    finally:
        proc.stdout.close()
        proc.wait()
