"""The graph diff between two plans of a recipe (the old and the new upstream release), per library: what a
maintainer reviews before uploading a new release. It compares the plans' data (debforge/plan/model.py), never
generated text; each item carries the architectures it holds on when not all of them."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .plan.model import Plan, SharedLibrary

# the categories, in the order they are printed
LIBRARY, TUS, TARGETS, STEPS, EXTERNALS, FLAGS, SONAME, SCRIPT, SYMBOLS = (
    "library", "translation units", "targets", "generate steps", "externals", "copts/defines", "SONAME",
    "version script", "exported symbols")
CATEGORIES = (LIBRARY, TUS, TARGETS, STEPS, EXTERNALS, FLAGS, SONAME, SCRIPT, SYMBOLS)
# options whose argument is the next word: a flag is the option and its argument
TWO_WORD = {"-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros", "-x", "-D", "-U"}
SHOWN = 8   # items printed per group; the file holds them all
GROUP = 3   # libraries that share a change before it is printed once for all of them


@dataclass
class Change:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class GraphDiff:
    source: str
    old_version: str
    new_version: str
    arches: list[str]
    libraries: dict[str, dict[str, Change]]   # lib<name> -> category -> change (only categories that changed)

    def to_json(self) -> str:
        libraries = {lib: {cat: {"added": c.added, "removed": c.removed} for cat, c in cats.items()}
                     for lib, cats in self.libraries.items()}
        return json.dumps({"source": self.source, "old": self.old_version, "new": self.new_version,
                           "arches": self.arches, "libraries": libraries}, indent=1)

    def counts(self) -> Counter:
        """category -> items added and removed over every library."""
        return Counter({cat: sum(len(c.added) + len(c.removed) for cats in self.libraries.values()
                                 for k, c in cats.items() if k == cat) for cat in CATEGORIES}) + Counter()

    def render(self, shown: int | None = SHOWN) -> str:
        """Grouped and counted: first the changes that GROUP or more libraries share (abseil's 80 libraries lose
        the same copts), then per library, per category, '+N -M' and the first `shown` items of each side that
        are its own; shown=None lists every item of every library."""
        head = f"graph diff of {self.source} {self.old_version} -> {self.new_version} ({', '.join(self.arches)})"
        if not self.libraries:
            return f"{head}: no change in any library\n"
        lines = [f"{head}: " + ", ".join(f"{cat} {n}" for cat, n in self.counts().items())]
        shared = self.shared() if shown is not None else {}
        if shared:
            lines.append(f"shared by {GROUP} or more of the {len(self.libraries)} changed libraries:")
            for cat in CATEGORIES:
                keys = sorted((k for k in shared if k[0] == cat), key=lambda k: (-len(shared[k]), k))
                lines += [f"  {cat}: {sign}{key} ({len(shared[(cat, sign, key)])} libraries)"
                          for _, sign, key in keys[:shown]]
                if len(keys) > shown:
                    lines.append(f"  {cat}: ... and {len(keys) - shown} more")
        quiet = 0
        for lib, cats in self.libraries.items():
            own = {cat: Change(*[[i for i in items if (cat, sign, _key(cat, i)) not in shared]
                                 for sign, items in (("+ ", c.added), ("- ", c.removed))])
                   for cat, c in cats.items()}
            own = {cat: c for cat, c in own.items() if c and not (cat == SONAME and (cat, "", _soname(cats[cat]))
                                                                  in shared)}
            if not own:
                quiet += 1
                continue
            lines.append(f"{lib}:")
            for cat in (c for c in CATEGORIES if c in own):
                change = own[cat]
                lines.append(f"  {cat}: +{len(change.added)} -{len(change.removed)}")
                for sign, items in (("+", change.added), ("-", change.removed)):
                    lines += [f"    {sign} {item}" for item in items[:shown]]
                    if shown is not None and len(items) > shown:
                        lines.append(f"    {sign} ... and {len(items) - shown} more")
        if quiet:
            lines.append(f"{quiet} more libraries changed only as shared above")
        return "\n".join(lines) + "\n"

    def shared(self) -> dict[tuple[str, str, str], list[str]]:
        """(category, sign, item) -> the libraries with that change, where GROUP or more have it; a copt counts
        whatever number of TUs it is on, a SONAME change by its version part."""
        out: dict[tuple[str, str, str], list[str]] = {}
        for lib, cats in self.libraries.items():
            for cat, change in cats.items():
                if cat == SONAME:
                    out.setdefault((cat, "", _soname(change)), []).append(lib)
                    continue
                for sign, items in (("+ ", change.added), ("- ", change.removed)):
                    for item in items:
                        out.setdefault((cat, sign, _key(cat, item)), []).append(lib)
        return {k: libs for k, libs in out.items() if len(libs) >= GROUP and k[0] != LIBRARY}


def _key(cat: str, item: str) -> str:
    return re.sub(r" \(in \d+ of \d+ TUs\)", "", item) if cat == FLAGS else item


def _soname(change: Change) -> str:
    """A SONAME change without the library's name: '.so.20240722 -> .so.20260526'."""
    def part(names: list[str]) -> str:
        return ", ".join(f".so.{n.partition('.so.')[2]}" for n in names) or "none"
    return f"{part(change.removed)} -> {part(change.added)}"


def diff(old: dict[str, Plan], new: dict[str, Plan], roots: tuple[Path, Path] | None = None,
         symbols: tuple[dict, dict] = ({}, {})) -> GraphDiff:
    """The diff of two plans per architecture (old and new upstream release). `roots`: the two upstream trees, to
    compare the content of upstream's version scripts; `symbols`: binary package -> exported symbols, from the old
    and the new debian/*.symbols files (symbols_files)."""
    arches = sorted(set(old) | set(new))
    per_arch: dict[str, dict[str, dict[str, Change]]] = {}
    for arch in arches:
        per_arch[arch] = _libraries(old.get(arch), new.get(arch), roots, symbols)
    libraries: dict[str, dict[str, Change]] = {}
    for lib in sorted({lib for d in per_arch.values() for lib in d}):
        cats = {cat: _merge([per_arch[a].get(lib, {}).get(cat, Change()) for a in arches], arches)
                for cat in CATEGORIES}
        if cats := {cat: c for cat, c in cats.items() if c}:
            libraries[lib] = cats
    plan = next(iter(new.values() or old.values()))
    old_plan = next(iter(old.values()), plan)
    return GraphDiff(plan.recipe.source, old_plan.recipe.version, plan.recipe.version, arches, libraries)


def _merge(changes: list[Change], arches: list[str]) -> Change:
    """One change from each architecture's: an item not on every architecture names those it is on."""
    out = Change()
    for side in ("added", "removed"):
        on: dict[str, list[str]] = {}
        for arch, change in zip(arches, changes):
            for item in getattr(change, side):
                on.setdefault(item, []).append(arch)
        getattr(out, side).extend(item if len(where) == len(arches) else f"{item} [{' '.join(where)}]"
                                  for item, where in on.items())
    return out


def _libraries(old: Plan | None, new: Plan | None, roots, symbols) -> dict[str, dict[str, Change]]:
    olds = {f"lib{lib.spec.name}": lib for lib in (old.libraries if old else [])}
    news = {f"lib{lib.spec.name}": lib for lib in (new.libraries if new else [])}
    out = {}
    for name in sorted(olds.keys() | news.keys()):
        a, b = olds.get(name), news.get(name)
        if a is None or b is None:
            out[name] = {LIBRARY: Change(added=[b.soname]) if a is None else Change(removed=[a.soname])}
            continue
        out[name] = {
            TUS: _sets({c.src for c in a.compiles}, {c.src for c in b.compiles}),
            TARGETS: _sets({c.owner for c in a.compiles}, {c.owner for c in b.compiles}),
            STEPS: _sets(_steps(old, a), _steps(new, b)),
            EXTERNALS: _sets(_externals(a), _externals(b)),
            FLAGS: _flags(a, b),
            SONAME: _sets({a.soname}, {b.soname}),
            SCRIPT: _script(a, b, roots),
            SYMBOLS: _sets(symbols[0].get(a.package.name, set()), symbols[1].get(b.package.name, set())),
        }
    return out


def _sets(old: set[str], new: set[str]) -> Change:
    return Change(added=sorted(new - old), removed=sorted(old - new))


def _steps(plan: Plan, lib: SharedLibrary) -> set[str]:
    """The generate steps whose outputs the library's compiles need, as 'kind label'."""
    needed = set(lib.generated)
    return {f"{s.kind} {s.label}" for s in plan.steps if needed.intersection(s.outputs)}


def _externals(lib: SharedLibrary) -> set[str]:
    return {*lib.build_depends, *(f"-l{name}" for name in lib.external_libs)}


def _words(flags: list[str]) -> list[str]:
    """Flags with a separate argument joined to it (-isystem DIR is one flag)."""
    out: list[str] = []
    for word in flags:
        if out and out[-1] in TWO_WORD:
            out[-1] += f" {word}"
        else:
            out.append(word)
    return out


def _flags(a: SharedLibrary, b: SharedLibrary) -> Change:
    """Flags added or removed on the translation units both releases compile, each with how many it touches."""
    old = {c.src: Counter(_words(c.flags)) for c in a.compiles}
    added: Counter = Counter()
    removed: Counter = Counter()
    both = 0
    for c in b.compiles:
        if c.src in old:
            both += 1
            new = Counter(_words(c.flags))
            added.update(set(new - old[c.src]))
            removed.update(set(old[c.src] - new))
    return Change(added=[f"{flag} (in {n} of {both} TUs)" for flag, n in sorted(added.items())],
                  removed=[f"{flag} (in {n} of {both} TUs)" for flag, n in sorted(removed.items())])


def _script(a: SharedLibrary, b: SharedLibrary, roots) -> Change:
    """The recipe's exports, upstream's version script by name, and its lines where the trees are at hand."""
    def lines(lib: SharedLibrary, root: Path | None) -> set[str]:
        out = {f"export {glob}" for glob in lib.spec.exports}
        if lib.version_script:
            out.add(f"file {lib.version_script}")
            path = root / lib.version_script if root else None
            if path and path.is_file():
                out |= {f"{lib.version_script}: {ln.strip()}" for ln in path.read_text(errors="replace").splitlines()
                        if ln.strip()}
        return out
    return _sets(lines(a, roots[0] if roots else None), lines(b, roots[1] if roots else None))


def symbols_files(debian: Path) -> dict[str, set[str]]:
    """Binary package -> the symbols its debian/<package>.symbols file lists (dpkg-gensymbols' format: a header
    line per library, then ' symbol minimal-version' lines; '|' and '*' lines are metadata)."""
    out = {}
    for path in sorted(debian.glob("*.symbols")) if debian.is_dir() else []:
        out[path.name.removesuffix(".symbols")] = {
            _symbol(ln.strip()) for ln in path.read_text(errors="replace").splitlines()
            if ln.startswith(" ") and ln.strip() and not ln.lstrip().startswith(("#", "|", "*"))}
    return out


def _symbol(line: str) -> str:
    """The symbol of a symbols-file line: the first word, or through the closing quote of a quoted one (C++
    names hold spaces: (c++)"ns::f(int, char)@Base")."""
    if '"' in line.split(" ", 1)[0]:
        return line[:line.index('"', line.index('"') + 1) + 1]
    return line.split()[0]
