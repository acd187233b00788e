"""Upstream's tests (the recipe's `tests`): each selected cc_test (a macro's too: it expands to one) becomes a test
program linked and run once per ISA level, its own code compiled at each level only where a library it tests has
copies. What a recipe library holds is linked from that level's copy, never compiled into the test, so the shipped
code is what is tested; the rest of its closure (testonly helpers) is compiled in, and externals (googletest) come
from Debian's -dev packages, which only the tests need (Build-Depends <!nocheck>)."""

from __future__ import annotations

import re

from ..core.errors import DebforgeError
from ..core.labels import absolute
from ..core.layout import GENDIR
from ..graph import Target, file_path, split_label
from ..recipe.model import TestEntry, Tests
from . import linkopts, sensitivity
from .closure import Dependencies
from .flags import CompileFlags
from .hosttools import Sources, compile_program, program_view
from .model import SharedLibrary, TestLibrary, TestProgram
from .scope import Scope
from .targets import checked, where

TEST_KINDS = ("cc_test",)
SUITE_KIND = "test_suite"
# bazel's timeout per `timeout` attribute, and the timeout each `size` implies (default medium)
TIMEOUTS = {"short": 60, "moderate": 300, "long": 900, "eternal": 3600}
SIZES = {"small": "short", "medium": "moderate", "large": "long", "enormous": "eternal"}
# bazel runs a test marked flaky = True up to 3 times (--flaky_test_attempts' default) before it counts as failed
FLAKY_ATTEMPTS = 3
# $(location x) and its kin in args: the runfiles path of one data file (the test runs in the runfiles root)
_LOCATION = re.compile(r"\$\((?:location|rootpath|execpath|rlocationpath) ([^)]+)\)")


def runfiles_path(path: str) -> str:
    """Where a data file (a tree path, or a generated one under GENDIR) lies in the runfiles tree."""
    return path.removeprefix(GENDIR + "/")


class TestPrograms:
    def __init__(self, scope: Scope, deps: Dependencies, flags: CompileFlags, steps: Sources,
                 libraries: list[SharedLibrary]):
        self.scope = scope
        self.deps = deps
        self.flags = flags
        self.steps = steps
        # recipe library -> the recipe libraries it links, transitively
        self.linked_below = {lib.spec.name: lib.siblings for lib in libraries}
        self.with_copies = {lib.spec.name for lib in libraries if lib.copies}
        self.libraries: dict[str, TestLibrary] = {}   # label -> a shared object tests load, planned once

    def plan(self) -> tuple[list[TestProgram], list[tuple[str, str]], list[str], list[TestLibrary]]:
        """The test programs, the selected tests the recipe leaves out (with its reasons), the Debian packages
        only the tests use and the shared objects the tests load. Planned after the libraries: what those compile
        is linked, not compiled again."""
        spec = self.scope.recipe.tests
        if spec is None:
            return [], [], [], []
        selected = self.selected(spec)
        left_out = {label: e.reason for label in selected for e in spec.leave_out if e.matches(label)}
        _each_matches(spec.leave_out, selected, "tests.leave-out entry")
        run = [label for label in selected if label not in left_out]
        for level, entries in spec.known_failures.items():
            _each_matches(entries, run, f"tests.known-failures.{level} entry")
        _each_matches(spec.flaky, run, "tests.flaky entry")
        before = set(self.deps.externals_used)
        programs = [self.program(selected[label], spec) for label in run]
        return programs, sorted(left_out.items()), sorted(self.deps.externals_used - before), \
            [self.libraries[k] for k in sorted(self.libraries)]

    def selected(self, spec: Tests) -> dict[str, Target]:
        """The cc_test targets the recipe's patterns select, by label; a pattern matching none is an error."""
        out: dict[str, Target] = {}
        for entry in spec.select:
            found = self.matching(entry)
            if not found:
                raise DebforgeError(f"tests.select entry '{entry.pattern}' matches no cc_test", entry.file, entry.line,
                                    "name a cc_test as //pkg:name, or all of a package's as //pkg:all")
            out.update((t.label, t) for t in found)
        return dict(sorted(out.items()))

    def matching(self, entry: TestEntry) -> list[Target]:
        """The tests a pattern names: one label, or a package's tests (//pkg:all) or a tree's (//pkg/...), less
        those tagged manual (as bazel's patterns leave them out)."""
        ws = self.scope.ws
        pkg, _, name = entry.pattern[2:].partition(":")
        if name and name != "all":
            t = ws.target(entry.pattern)
            if t is not None and t.kind == SUITE_KIND:
                return self.suite(t, entry, ())
            if t is not None and t.kind not in TEST_KINDS:
                raise DebforgeError(f"tests.select entry '{entry.pattern}' is a {t.kind} ({t.location}), not a "
                                    f"cc_test", entry.file, entry.line)
            return [t] if t is not None else []
        top = entry.pattern[2:].removesuffix("...").rstrip("/")
        pkgs = [pkg] if name else [p for p in ws.all_packages() if not top or p == top or p.startswith(top + "/")]
        try:
            targets = [t for p in pkgs if ws.build_file(p) is not None for t in ws.targets_in(p)]
        except DebforgeError as exc:
            raise DebforgeError(f"tests.select entry '{entry.pattern}': {exc}", entry.file, entry.line) from None
        return [t for t in targets if t.kind in TEST_KINDS and "manual" not in _strings(t, "tags")
                and not _needs_gpu(t)]

    def suite(self, suite: Target, entry: TestEntry, via: tuple[str, ...]) -> list[Target]:
        """The tests of a test_suite (its `tests`; none listed: its package's, as bazel has it), suites among them
        expanded, less those that need a GPU: of tf_cuda_cc_test's <name>_cpu and <name>_gpu, the CPU build runs
        the first."""
        ws, pkg = self.scope.ws, split_label(suite.label)[1]
        try:
            labels = [absolute(x, "", pkg) for x in _strings(suite, "tests")]
        except ValueError as exc:
            raise DebforgeError(f"test_suite '{suite.label}': {exc}", *where(suite.location)) from None
        members = [ws.target(x) for x in labels] if labels else [
            t for t in ws.targets_in(pkg) if t.kind in TEST_KINDS and "manual" not in _strings(t, "tags")]
        out = []
        for label, t in zip(labels or [t.label for t in members], members):
            if t is not None and t.kind == SUITE_KIND and t.label not in via:
                out += self.suite(t, entry, via + (suite.label,))
            elif t is None or t.kind not in TEST_KINDS:
                raise DebforgeError(f"test_suite '{suite.label}' (tests.select entry '{entry.pattern}') lists "
                                    f"'{label}', which is not a cc_test", *where(suite.location))
            elif not _needs_gpu(t):
                out.append(t)
        return out

    def program(self, t: Target, spec: Tests) -> TestProgram:
        checked(t)
        for attr in ("data", "args", "tags"):
            _strings(t, attr)
        flaky = bool(t.attrs.get("flaky")) or bool(spec.flaky_reason(t.label))   # bazel: True or 1
        test = TestProgram(t.label, t.location, timeout=spec.timeout or _timeout(t),
                           attempts=FLAKY_ATTEMPTS if flaky else 1,
                           known_failures={lvl: why for lvl in spec.known_failures
                                           if (why := spec.known_failure(lvl, t.label))})
        self.link(test, t)
        # its own code at a level only where a library it tests has a copy there: ATen's tests, whose
        # libtorch_cpu has none, are compiled once and run over each level's libc10 all the same
        per_level = bool(self.tested(test.siblings) & self.with_copies)
        for c in test.compiles:
            c.level_sensitive = per_level and sensitivity.sensitive(self.scope.recipe, c.src)
        test.data = self.data(t)
        test.args = [self.expand(t, a) for a in t.attrs.get("args", [])]
        test.env = _env(t)
        return test

    def tested(self, siblings: list[str]) -> set[str]:
        """The libraries a test tests: those it links that none of the others links (ATen's tests link
        libtorch_cpu, and libc10 below it)."""
        below = {b for s in siblings for b in self.linked_below.get(s, ())}
        return set(siblings) - below

    def link(self, program: TestProgram | TestLibrary, t: Target) -> None:
        """A test's (or test library's) compiles and what it links: a recipe library for each target one holds
        (as cc_shared_library's dynamic_deps: never a static copy) and each shared object it names."""
        view, shared = program_view(self.scope, t)
        self.deps.start_library()
        allowed = self.scope.recipe.tests.libraries
        linked = {label: name for name, labels in self.deps.compiled.items() if allowed is None or name in allowed
                  for label in labels}
        closure, siblings, program.external_libs = self.deps.closure(view, linked=linked)
        # and what those link, as a library links its siblings' (link_transitively): an ATen test calls c10 through
        # libtorch_cpu's inline code, and ld links no executable against a shared object only another one NEEDs
        program.siblings = list(dict.fromkeys(siblings + [b for name in siblings
                                                          for b in self.linked_below.get(name, ())]))
        program.siblings += [name for name in shared if name not in program.siblings]
        self.check_copies(program.siblings, t)
        compile_program(program, closure, self.flags, self.steps, self.deps.visible(closure, program.siblings))
        program.linkopts = linkopts.read(program.linkopts, t.label, where(t.location)).kept

    def check_copies(self, siblings: list[str], t: Target) -> None:
        """No two libraries a test links hold the same target: the process would run two copies of its code and
        its static registrations (TensorFlow's ops and kernels: libtensorflow and libtensorflow_cc)."""
        holder: dict[str, str] = {}
        for name in siblings:
            for label in self.deps.compiled.get(name, ()):
                if holder.setdefault(label, name) != name:
                    raise DebforgeError(f"'{t.label}' would link lib{holder[label]} and lib{name}, which both hold "
                                        f"'{label}': two copies of its code in one process", *where(t.location),
                                        hint=f"name the libraries the tests link in {self.scope.recipe.path} "
                                             f"(tests.libraries); what the others hold is compiled into the test")

    def data(self, t: Target) -> list[str]:
        """A test's data files: a recipe library's shared object is linked, not staged (ld.so finds the level's
        copy); a shared object upstream builds for the test is planned and staged; the rest are files."""
        out = []
        for label in t.attrs.get("data", []):
            rule = self.scope.ws.target(label) if not label.startswith("@") else None
            if self.scope.recipe_library(label):
                continue
            if rule is not None and rule.kind == "cc_binary" and rule.attrs.get("linkshared"):
                out.append(self.library(rule).path)
            else:
                out += self.steps.paths(t, [label])
        return out

    def library(self, t: Target) -> TestLibrary:
        if t.label not in self.libraries:
            checked(t)
            lib = self.libraries[t.label] = TestLibrary(t.label, t.location, f"{GENDIR}/{file_path(t.label)}")
            self.link(lib, t)
        return self.libraries[t.label]

    def expand(self, t: Target, arg: str) -> str:
        """An argument with each $(location x) replaced by the runfiles path of x, a file among its data."""
        def location(m: re.Match) -> str:
            try:
                label = absolute(m.group(1).strip(), "", split_label(t.label)[1])
            except ValueError as exc:
                raise DebforgeError(f"argument '{arg}' of '{t.label}': {exc}", *where(t.location)) from None
            paths = self.steps.paths(t, [label]) if label in t.attrs.get("data", []) else []
            if len(paths) != 1:
                raise DebforgeError(f"argument '{arg}' of '{t.label}' names '{label}', which is not one file of its "
                                    f"data", *where(t.location))
            return runfiles_path(paths[0])
        out = _LOCATION.sub(location, arg)
        if "$(" in out:
            raise DebforgeError(f"argument '{arg}' of '{t.label}' uses a make variable debforge does not expand "
                                f"(only $(location x) of a data file)", *where(t.location))
        return out


def _each_matches(entries: tuple[TestEntry, ...], labels, what: str) -> None:
    for e in entries:
        if not any(e.matches(label) for label in labels):
            raise DebforgeError(f"{what} '{e.pattern}' matches no test that tests.select runs", e.file, e.line)


def _needs_gpu(t: Target) -> bool:
    """Whether a test is tagged as needing a GPU (TensorFlow's tf_gpu_tests_tags: gpu, requires-gpu...)."""
    return any(tag == "gpu" or tag.startswith("requires-gpu") for tag in _strings(t, "tags"))


def _strings(t: Target, attr: str) -> list[str]:
    value = t.attrs.get(attr, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DebforgeError(f"attribute '{attr}' of '{t.label}' must be a list of strings", *where(t.location))
    return value


def _env(t: Target) -> dict[str, str]:
    env = t.attrs.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) and
                                            re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k, v in env.items()):
        raise DebforgeError(f"attribute 'env' of '{t.label}' must map variable names to strings", *where(t.location))
    return dict(env)


def _timeout(t: Target) -> int:
    """bazel's timeout of the test: its `timeout`, else the one its `size` implies."""
    timeout = t.attrs.get("timeout") or SIZES.get(t.attrs.get("size") or "medium")
    if timeout not in TIMEOUTS:
        raise DebforgeError(f"'{t.label}' has size '{t.attrs.get('size')}' and timeout '{t.attrs.get('timeout')}'; "
                            f"bazel knows sizes {', '.join(SIZES)} and timeouts {', '.join(TIMEOUTS)}",
                            *where(t.location))
    return TIMEOUTS[timeout]
