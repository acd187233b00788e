"""Checks of a finished build: blhc on its log, and bit-for-bit reproducibility against a second build."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from debian.deb822 import Deb822

from ..core.errors import DebforgeError

DIFFOSCOPE_LINES = 60  # of each differing .deb's report shown; the whole report is kept beside the build


def stripped_flags(recipe) -> tuple[str, ...]:
    """The options the recipe's buildflags strip from dpkg-buildflags' (blhc must not count them missing)."""
    return tuple(dict.fromkeys(o for _, op, options in recipe.buildflags if op == "STRIP" for o in options))


def blhc(build_log: Path, ignore: tuple[str, ...] = ()) -> str:
    """blhc's findings on a build log ('' when every compile and link line carries the hardening flags), not
    counting the flags in IGNORE missing (those the recipe's buildflags strip: -g where it has -g1)."""
    if shutil.which("blhc") is None:
        raise DebforgeError("blhc is not installed", hint="apt-get install blhc")
    # blhc stops reading at sbuild's "Build finished at YYYYMMDD-HHMM" only; trixie's sbuild writes an ISO date, so
    # bookworm's blhc 0.13 read on into "Package contents", where a description's "C++ code" looked like a
    # compile without flags: it is given the log up to the end of the build, whatever the date's format
    text = build_log.read_text(errors="replace")
    end = re.search(r"^Build finished at ", text, re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".build") as tmp:
        tmp.write(text[:end.start()] if end else text)
        tmp.flush()
        proc = subprocess.run(["blhc", "--all", *(f"--ignore-flag={f}" for f in ignore), tmp.name],
                              capture_output=True, text=True)
    if proc.returncode & 2:  # its exit status is a bit mask; 2: blhc itself was misused
        raise DebforgeError(f"blhc failed: {proc.stderr.strip()}", str(build_log))
    # 1: no compiler command found (a terse log hides them), 4: non-verbose build, 8: flags missing
    return ((proc.stdout + proc.stderr).strip() or f"blhc exit status {proc.returncode}") if proc.returncode else ""


def deb_checksums(changes: Path) -> dict[str, str]:
    """SHA-256 of each .deb a .changes lists, by file name."""
    with open(changes) as fh:
        files = Deb822(fh)["Checksums-Sha256"].split("\n")
    return {f.split()[2]: f.split()[0] for f in files if f.strip().endswith(".deb")}


def compare(first: Path, second: Path, log=print) -> list[str]:
    """Compare the .debs of two .changes; returns the names that differ, after showing a diffoscope summary of each
    (the full report goes to <name>.diffoscope.txt beside the second build)."""
    a, b = deb_checksums(first), deb_checksums(second)
    differ = sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))
    for name in differ:
        if name not in a or name not in b:
            log(f"debforge: {name} was built only {'the first' if name in a else 'the second'} time")
            continue
        report = second.parent / f"{name}.diffoscope.txt"
        if shutil.which("diffoscope") is None:
            log(f"debforge: {name} differs (apt-get install diffoscope-minimal for a report)")
            continue
        subprocess.run(["diffoscope", "--no-progress", f"--text={report}", str(first.parent / name),
                        str(second.parent / name)], capture_output=True)
        lines = report.read_text(errors="replace").splitlines() if report.exists() else []
        log(f"debforge: {name} differs; diffoscope (full report: {report}):")
        log("\n".join("  " + ln for ln in lines[:DIFFOSCOPE_LINES]))
    return differ
