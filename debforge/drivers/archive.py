"""What the Debian -dev packages of a recipe's externals hold: the files they install (where their headers are) and
what their pkg-config files give (pkgconf's answers). Read from their .debs in the recipe's suite, downloaded once
through upstream.py's private apt configuration (apt checks them against the signed index) and listed with
dpkg-deb; the answers are cached beside the .deb."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import unquote

from debian.debian_support import Version

from ..core.devpackage import DevPackage
from ..core.errors import DebforgeError
from ..recipe.model import Recipe
from ..upstream import CACHE, fetch_debian_binary

MAX_PC_BYTES = 1 << 20
CACHE_FORMAT = 2
REQUIRES = re.compile(r"\s*Requires(?:\.private)?\s*:(.*)")


def _listing(deb: Path) -> tuple[list[str], dict[str, str]]:
    """The files of a .deb and the text of its .pc files (dpkg-deb unpacks the data member; nothing is written)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    files, pcs = [], {}
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for m in tf:
                path = m.name.removeprefix(".")
                if m.isdir() or not path.startswith("/"):
                    continue
                files.append(path)
                if path.endswith(".pc") and "/pkgconfig/" in path and m.isfile() and m.size <= MAX_PC_BYTES:
                    pcs[Path(path).stem] = tf.extractfile(m).read().decode("utf-8", "replace")
    except tarfile.TarError as exc:
        raise DebforgeError(f"{deb}: cannot list its files ({exc})") from None
    finally:
        proc.stdout.close()
        proc.wait()
    return sorted(files), pcs


def _own_requires(line: str, own: set[str]) -> str:
    """A Requires line with only the modules in `own` (each with its version constraint, `name >= 1.2`)."""
    m = REQUIRES.match(line)
    if not m:
        return line
    words = [w for w in re.split(r"[\s,]+", m.group(1).strip()) if w]
    kept, i = [], 0
    while i < len(words):
        n = 3 if i + 2 < len(words) and words[i + 1][0] in "<>=!" else 1
        if words[i] in own:
            kept.append(" ".join(words[i:i + n]))
        i += n
    return f"{line.split(':', 1)[0]}: {', '.join(kept)}"


def _pkgconf(pcs: dict[str, str], deb: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per module: its -I directories and its -l names with its requirements', as pkgconf resolves them from the
    package's own .pc files (a requirement on another package's module is left out: that package's -dev
    dependency brings it)."""
    include_dirs, libs = {}, {}
    with tempfile.TemporaryDirectory(prefix="debforge-pc-") as tmp:
        for pc, text in pcs.items():
            Path(tmp, f"{pc}.pc").write_text("".join(_own_requires(ln, set(pcs)) + "\n" for ln in text.splitlines()))
        for pc in pcs:
            proc = subprocess.run(["pkgconf", "--keep-system-cflags", "--keep-system-libs", "--cflags-only-I",
                                   "--libs-only-l", pc], capture_output=True, text=True,
                                  env={"PKG_CONFIG_LIBDIR": tmp, "PATH": os.defpath})
            if proc.returncode != 0:
                raise DebforgeError(f"{deb.name}: pkgconf cannot read {pc}.pc: {proc.stderr.strip()[:300]}")
            words = list(dict.fromkeys(shlex.split(proc.stdout)))
            include_dirs[pc] = [w[2:] for w in words if w.startswith("-I")]
            libs[pc] = [w[2:] for w in words if w.startswith("-l")]
    return include_dirs, libs


def dev_package(name: str, suite: str, log=print) -> DevPackage:
    """A -dev package's contents, from its .deb of `suite` (downloaded, listed and queried once)."""
    dest = CACHE / "debs" / suite
    debs = sorted(dest.glob(f"{name}_*.deb"), key=lambda p: Version(unquote(p.name.split("_")[1])))
    # the suite's index was updated since (upstream.py does it at most daily): its version may have moved on
    index = CACHE / "apt" / f"{suite}-deb" / "lists" / ".updated"
    if not debs or index.exists() and index.stat().st_mtime > debs[-1].stat().st_mtime:
        try:
            fetch_debian_binary(name, suite, dest, log)
        except DebforgeError:   # offline: the copy from before serves, if there is one
            if not debs:
                raise
        debs = sorted(dest.glob(f"{name}_*.deb"), key=lambda p: Version(unquote(p.name.split("_")[1])))
        debs[-1].touch()   # checked against this index: apt may have kept the file it had
    deb = debs[-1]
    cached = deb.with_suffix(".json")
    if cached.is_file():
        data = json.loads(cached.read_text())
        if data.get("format") == CACHE_FORMAT:
            return DevPackage(name, tuple(data["files"]), data["include_dirs"], data["libs"])
    files, pcs = _listing(deb)
    include_dirs, libs = _pkgconf(pcs, deb)
    cached.write_text(json.dumps({"format": CACHE_FORMAT, "files": files, "include_dirs": include_dirs,
                                  "libs": libs}))
    return DevPackage(name, tuple(files), include_dirs, libs)


def externals_contents(recipe: Recipe, log=print) -> dict[str, DevPackage]:
    """The contents of every Debian package the recipe's externals map to; one the suite lacks is left out with
    a warning (its headers and pkg-config files are then unknown to the -dev package's Depends and .pc files)."""
    out = {}
    for name in sorted({p for ext in recipe.externals.values() for p in ext.packages}):
        try:
            out[name] = dev_package(name, recipe.upstream.suite, log)
        except DebforgeError as exc:
            log(f"debforge: warning: {name} not read from {recipe.upstream.suite}: {exc.message.splitlines()[0]}; "
                f"what the -dev package's headers include from it is not known")
    return out


UNDEFINED = re.compile(r"undefined reference to [`']([^'\n]+)'")


def undefined_externals(build_log: Path, recipe: Recipe, contents: dict[str, DevPackage]) -> list[str]:
    """For a link that failed on undefined references: which external's library defines each symbol (its -dev
    package's .so, installed here as a Build-Depends, read with nm), as lines naming the recipe key to change."""
    wanted = set(UNDEFINED.findall(build_log.read_text(errors="replace")[-(4 << 20):]))
    out = []
    for key, ext in recipe.externals.items():
        for pkg in (contents[p] for p in ext.packages if p in contents):
            for so in (f for f in pkg.files if re.fullmatch(r"/usr/lib/[^/]+/lib[^/]+\.so", f) and Path(f).exists()):
                nm = subprocess.run(["nm", "-DC", "--defined-only", so], capture_output=True, text=True).stdout
                # a versioned symbol is listed as name@@VERSION
                found = wanted & {ln.split(" ", 2)[2].split("@")[0] for ln in nm.splitlines() if ln.count(" ") >= 2}
                if found:
                    name = Path(so).name[3:-3]
                    out.append(f"{len(found)} undefined symbols (such as `{sorted(found)[0]}') are in {so} of "
                               f"{pkg.name}: add {name} to externals.{key}.libs ({recipe.path}:{ext.line})")
                    wanted -= found
    return out
