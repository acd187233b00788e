"""Paths from recipes and upstream metadata stay inside their tree: the one check every stage uses."""

from __future__ import annotations

import os
import posixpath
import re


def inside(path: str) -> str | None:
    """`path` normalised, or None when it is absolute or climbs out of its tree with '..'."""
    if not path or path.startswith("/"):
        return None
    norm = posixpath.normpath(path)
    return None if norm == ".." or norm.startswith("../") else norm


def in_tree(root: str | os.PathLike, rel: str) -> bool:
    """Does `rel` name something that is in the tree at `root` once symlinks are followed?"""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, rel))
    return real == real_root or real.startswith(real_root + os.sep)


_SYSTEM_DIR = re.compile(r"/usr/(?:[A-Za-z0-9_+.-]+/)*[A-Za-z0-9_+.-]+")


def system_dir(path: str) -> bool:
    """Is `path` an absolute directory under /usr, where Debian packages install headers and libraries?"""
    return bool(_SYSTEM_DIR.fullmatch(path)) and not {".", ".."} & set(path.split("/"))


# Compiler-driver and linker options that make the toolchain load or run a program of their value (a plugin, a
# wrapper, another compiler pass, a specs file), or look for its own files elsewhere
_RUNS = ("-fplugin", "-B", "-wrapper", "-specs", "--specs", "--sysroot", "-isysroot", "-iprefix", "-iwithprefix",
         "-imultilib", "--ld-path", "-fuse-ld=/", "-no-canonical-prefixes")
_LINKER_RUNS = ("-plugin", "--plugin", "--sysroot")
# options whose value is a file or directory they read: it must be in the tree (joined, after '=', or the next word)
_PATHS = ("-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", "-T", "-fprofile-use=",
          "-fauto-profile=", "-fprofile-sample-use=", "-fsanitize-blacklist=", "-fsanitize-ignorelist=", "-MF")
_LINKER_PATHS = ("-T", "--script", "--dynamic-list", "--retain-symbols-file", "-Map")
_PASS_ON = {"-Wl,": True, "-Wa,": False, "-Wp,": False}   # -W<x>,a,b: a and b go to the linker (True) or a pass
_PASS_NEXT = {"-Xlinker": True, "-Xassembler": False, "-Xpreprocessor": False}


def option_problem(options: list[str], system: bool = False) -> tuple[str, str] | None:
    """(the option, why it may not be passed) for the first compile or link option that makes the compiler or linker
    load or run a program, or read a file outside the tree; None when all are fine. `system`: absolute directories
    under /usr are fine too (the recipe's own options, like its externals' includes)."""
    words: list[tuple[str, bool]] = []   # (word, for the linker)
    pass_next = None
    for opt in options:
        if pass_next is not None:
            words.append((opt, pass_next))
            pass_next = None
        elif opt in _PASS_NEXT:
            pass_next = _PASS_NEXT[opt]
        elif opt[:4] in _PASS_ON:
            words += [(w, _PASS_ON[opt[:4]]) for w in opt[4:].split(",")]
        else:
            words.append((opt, False))
    for i, (word, linker) in enumerate(words):
        if word.startswith("@"):
            return f"'{word}'", "makes the compiler or linker read a response file"
        if word.startswith(_LINKER_RUNS if linker else _RUNS):
            return f"'{word}'", "makes the compiler or linker load or run a program"
        for flag in _LINKER_PATHS if linker else _PATHS:
            if word == flag.rstrip("="):
                path = words[i + 1][0] if i + 1 < len(words) else ""
                shown = f"{word} {path}"
            elif word.startswith(flag):
                path, shown = word[len(flag):].removeprefix("="), word
            else:
                continue
            if inside(path) is None and not (system and system_dir(path)):
                return f"'{shown}'", "leads out of the tree"
            break
    return None
