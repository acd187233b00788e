"""Link options of a shared-object rule (cc_binary(linkshared), cc_shared_library), read for a Debian build.

Upstream's options decide what is exported (a version script: symbol visibility is ABI); the options that
Debian decides instead are left out: the SONAME (the recipe's soversion), stripping (dh_strip keeps the
debug symbols for -dbgsym packages) and RUNPATH (Policy 10.2; debforge sets its own for ISA variants).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from ..core.errors import DebforgeError

# a $(location ...), $(execpath ...) or make variable: bazel expands it before it splits an option into words
_EXPANSION = re.compile(r"\$\([^)]*\)")
_LOCATION = re.compile(r"^\$\((?:location|execpath|rootpath) ([^)]+)\)$")
# ld options with a value that Debian decides (-soname, -rpath) or that undo dh_strip (-s, --strip-all)
_DROPPED_WITH_VALUE = ("-soname", "-h", "-rpath", "-R")
_DROPPED = ("-s", "--strip-all", "-S", "--strip-debug")
_VERSION_SCRIPT = "--version-script"
# compile options whose code needs the compiler's runtime, which the driver links when given them at the link too
# (GCC's -fopenmp: libgomp). bazel passes copts to compiles only, and upstream links a runtime of its own as a
# dependency (TF's --config=mkl: LLVM's libiomp5), which a Debian build leaves out for the compiler's
_RUNTIME_COPTS = ("-fopenmp",)


@dataclass
class LinkOptions:
    kept: list[str] = field(default_factory=list)       # passed to the link as written
    version_script: str | None = None                   # label of the version script
    dropped: list[str] = field(default_factory=list)    # what Debian decides instead


def words(options: list[str]) -> list[str]:
    """options split into words as bazel splits linkopts (Bourne shell tokenization: TF's "-z defs" is two words,
    which one argument would make ld ignore), each $(...) expansion kept whole. ValueError on an unclosed quote."""
    out: list[str] = []
    for opt in options:
        expansions = iter(_EXPANSION.findall(opt))
        out += [re.sub("\0", lambda _: next(expansions), w) for w in shlex.split(_EXPANSION.sub("\0", opt))]
    return out


def runtimes(compiles) -> list[str]:
    """The link options that the flags of `compiles` (plan Compiles) need: their compiler runtimes."""
    return [o for o in _RUNTIME_COPTS if any(o in c.flags for c in compiles)]


def read(linkopts: list[str], label: str, where: tuple[str | None, int | None]) -> LinkOptions:
    """Sort the link options of `label` (words, declared at `where`, the BUILD file and line)."""
    out = LinkOptions()
    for opt in linkopts:
        if not opt.startswith("-Wl,"):
            if "$(" in opt:
                raise DebforgeError(f"link option '{opt}' of '{label}' is not supported: only a version script "
                                    f"(-Wl,--version-script,$(location ...)) may name a file", *where)
            out.kept.append(opt)
            continue
        args = opt[len("-Wl,"):].split(",")
        kept: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg in _DROPPED_WITH_VALUE and i + 1 < len(args):
                out.dropped += args[i:i + 2]
                i += 2
                continue
            if arg in _DROPPED or arg.startswith(("-soname=", "-rpath=")):
                out.dropped.append(arg)
            elif arg == _VERSION_SCRIPT and i + 1 < len(args) or arg.startswith(_VERSION_SCRIPT + "="):
                value = args[i + 1] if arg == _VERSION_SCRIPT else arg.partition("=")[2]
                i += arg == _VERSION_SCRIPT
                m = _LOCATION.match(value)
                if not m:
                    raise DebforgeError(f"version script '{value}' of '{label}' must be named as $(location "
                                        f"LABEL) (a path of bazel's sandbox means nothing here)", *where)
                if out.version_script:
                    raise DebforgeError(f"'{label}' names two version scripts", *where)
                out.version_script = m.group(1).strip()
            elif "$(" in arg:
                raise DebforgeError(f"link option '{opt}' of '{label}' is not supported: only a version script "
                                    f"may name a file", *where)
            else:
                kept.append(arg)
            i += 1
        if kept:
            out.kept.append("-Wl," + ",".join(kept))
    return out
