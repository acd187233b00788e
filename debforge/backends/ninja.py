"""plan -> build.ninja: every library once per ISA level, each level in its own object directory; a level-neutral
translation unit (the recipe's `level-sensitive` globs don't match it) is compiled once, in the generic level's,
and that object is linked into every level's copy.

The file is static and arch-specific; debian/rules writes $builddir/config.ninja with the toolchain and
dpkg-buildflags, so every command line in the build log is complete (blhc reads them) and nothing is hidden
in environment variables.
"""

from __future__ import annotations

import io
import os

from ninja import ninja_syntax

from ..core import escape, isa
from ..core.exports import patterns as export_patterns
from ..core.layout import BUILDDIR, GENDIR, HOST_DIR
from ..plan import HostTool, Plan, SharedLibrary, TestLibrary, TestProgram, pools, runfiles_path, test_name
from ..recipe.model import Library

CONFIG = f"{BUILDDIR}/config.ninja"
CHECK_SCRIPT = "debian/debforge/check-variant"
IDENTITIES_SCRIPT = "debian/debforge/check-identities"
EXPORTS_SCRIPT = "debian/debforge/check-exports"
RUN_TEST = "debian/debforge/run-test"
LINK_SCRIPT = "debian/debforge/explain-link"
# host tools that link recipe libraries (TF's op generators) link the build tree's generic copies, or with
# `host_libs = installed` in config.ninja (the upstream-tests autopkgtest) those in `installed_libdir`
HOST_LIBS = "host_libs"
INSTALLED_LIBDIR = "installed_libdir"
RECIPE = "debian/debforge/recipe.yaml"   # the recipe's copy in debian/: what generated files name as their origin

# libc is NEEDED by every library, even one that calls nothing of it (abseil's log_severity), which --as-needed
# would leave without it: its symbol versions come from there (lintian: library-not-linked-against-libc)
LIBC = "-Wl,--push-state,--no-as-needed,-lc,--pop-state"
RULES = {
    "cc": "$cc -MD -MF $out.d $cppflags $cflags $march $copts -fPIC -c $in -o $out",
    "cxx": "$cxx -MD -MF $out.d $cppflags $cxxflags $march $copts -fPIC -c $in -o $out",
    "as": "$cc -MD -MF $out.d $cppflags $cflags $march $copts -fPIC -c $in -o $out",
    # a failed link names the recipe's externals behind ld's complaints (LINK_SCRIPT); the objects in a response
    # file (RSP): libtorch_cpu's 1253 made a 110 kB command, near the kernel's 128 kB for one argument (sh -c's)
    "link_c": "$cc -shared -Wl,-soname,$soname $cflags $march $ldflags -Wl,-z,defs -Wl,--as-needed "
              f"$rpath -o $out @$out.rsp $libs {LIBC} 2> $out.ld; sh $link_script $$? $out.ld $out $externals",
    "link_cxx": "$cxx -shared -Wl,-soname,$soname $cxxflags $march $ldflags -Wl,-z,defs -Wl,--as-needed "
                f"$rpath -o $out @$out.rsp $libs {LIBC} 2> $out.ld; sh $link_script $$? $out.ld $out $externals",
    # upstream's tests, once per ISA level; PIE as gcc makes them by default, spelt out for blhc
    "link_test_c": "$cc $cflags $march $ldflags -fPIE -pie -Wl,--as-needed -o $out $in $libs",
    "link_test_cxx": "$cxx $cxxflags $march $ldflags -fPIE -pie -Wl,--as-needed -o $out $in $libs",
}
RSP = {"rspfile": "$out.rsp", "rspfile_content": "$in"}   # for a command that reads its inputs from $out.rsp
COMPILE_RULE = {"c": "cc", "c++": "cxx", "asm": "as", "gpu": "gpu"}   # gpu: the flavour's compiler


class Writer(ninja_syntax.Writer):
    """ninja_syntax's writer, whose build statements escape their paths and variables (escape.ninja_path,
    escape.ninja): every value from a recipe or an upstream tree is written through one of them."""

    def build(self, outputs, rule, inputs=None, implicit=None, order_only=None, variables=None, pool=None):
        def paths(xs, sep=None):
            xs = [escape.ninja_path(x) for x in ninja_syntax.as_list(xs)]
            return [sep, *xs] if sep and xs else xs
        self._line(f"build {' '.join(paths(outputs))}: "
                   f"{' '.join([rule, *paths(inputs), *paths(implicit, '|'), *paths(order_only, '||')])}")
        if pool is not None:
            self.variable("pool", pool, indent=1)
        for key, value in (variables or {}).items():
            self.variable(key, escape.ninja(value), indent=1)

    def phony_at(self, output: str, prefix: str, variable: str, suffix: str = "") -> None:
        """A phony `output` for the path `prefix${variable}suffix`: a ninja variable (config.ninja's) in a path, the
        one place a path is written unescaped around it."""
        self._line(f"build {escape.ninja_path(output)}: phony {escape.ninja_path(prefix)}${{{variable}}}"
                   f"{escape.ninja_path(suffix)}")


def _shell(args: list[str]) -> str:
    return " ".join(escape.shell(a) for a in args)


def level_dir(level: str) -> str:
    return f"{BUILDDIR}/{level}"


def version_script_path(name: str) -> str:
    return f"debian/debforge/lib{name}.map"


def version_script(exports: tuple[str, ...]) -> str:
    """An ld version script that exports EXPORTS only: the same dynamic symbols at every ISA level, where
    otherwise the template instantiations a level's kernels make would leak into the ABI."""
    both = [export_patterns(e) for e in exports]
    c = "".join(f"    {p};\n" for plain, _ in both for p in plain)
    cxx = "".join(f"      {p};\n" for _, demangled in both for p in demangled)
    return ("{\n  global:\n" + c + (f'    extern "C++" {{\n{cxx}    }};\n' if cxx else "")
            + "  local: *;\n};\n")


def exports_spec_path(name: str) -> str:
    return f"debian/debforge/lib{name}.exports"


def exports_spec(lib: Library, headers: list[str]) -> str:
    """What EXPORTS_SCRIPT checks lib's link against: its recipe line, each export glob with its recipe line and
    its version-script patterns (plain, extern "C++"), and the headers the -dev package installs (tab-separated)."""
    rows = [("library", lib.name, str(lib.export_lines[0]))]
    rows += [("glob", str(line), glob, *(" ".join(p) for p in export_patterns(glob)))
             for glob, line in zip(lib.exports, lib.export_lines)]
    rows += [("header", h) for h in headers]
    return f"# {EXPORTS_SCRIPT}'s data for lib{lib.name}; generated by debforge\n" + \
        "".join("\t".join(row) + "\n" for row in rows)


def static_path(name: str) -> str:
    return f"{level_dir(isa.GENERIC)}/lib{name}.a"


def object_path(level: str, lib: SharedLibrary, src: str) -> str:
    return f"{level_dir(level)}/obj/{lib.spec.name}/{src}.o"


def hidden_archive(lib: SharedLibrary, level: str) -> str | None:
    """The thin archive of lib's objects at level, for the libraries that link lib, when lib's version script may
    hide what they call. Upstream's bazel compiles such code into both (TF: libtensorflow_framework hides *mlir*,
    which libtensorflow's own code calls); linked after lib's .so, the archive gives ld only the objects that
    define what the .so does not export."""
    if not (lib.spec.exports or lib.version_script):
        return None
    return f"{level_dir(level if lib.copies else isa.GENERIC)}/hidden/lib{lib.spec.name}.a"


def render(plan: Plan, groups: dict[str, list[str]] | None = None, headers: list[str] = ()) -> str:
    """build.ninja for plan; `groups` adds phony targets naming sets of outputs (what a package installs);
    `headers`: the files the -dev package installs, which the check of a library's exports reads."""
    out = io.StringIO()
    w = Writer(out, width=120)
    w.comment(f"Generated by debforge from {RECIPE} for {plan.arch}; regenerate, don't edit.")
    w.comment("Build with: ninja -f debian/debforge/build-<arch>.ninja <levels> (debian/rules does).")
    w.variable("ninja_required_version", "1.10")
    w.variable("builddir", BUILDDIR)
    w.variable("link_script", LINK_SCRIPT)
    w.variable("ar", "ar")   # config.ninja gives dpkg's $(AR) where debian/rules writes it
    hosted = host_libraries(plan)
    if hosted:   # what host tools link: the build tree's copies, unless config.ninja says installed (HOST_LIBS)
        w.variable(HOST_LIBS, "build")
    w.include(CONFIG)
    if plan.recipe.config.compile_memory:   # the compiles' pools, with depths that fit the builder's memory
        w.include(pools.POOLS_FILE)
    w.newline()
    rules = {**RULES, "gpu": plan.flavor.compile_rule} if plan.flavor else RULES
    if plan.flavor:
        w.variable("gpu_archs", escape.ninja(_shell(plan.gpu_archs)))
    for name, command in rules.items():
        depfile = name in COMPILE_RULE.values()
        w.rule(name, command, depfile="$out.d" if depfile else None, deps="gcc" if depfile else None,
               **(RSP if "$out.rsp" in command else {}))
    # host tools: programs build steps run, at the generic level; PIE as gcc makes them by default, spelt out for
    # blhc. A relink that makes the same program (a change of flags only) leaves the file as it was, and restat
    # spares the steps that run it, and all that is compiled from their outputs (TF: most of the tree)
    for lang, compiler in (("c", "cc"), ("cxx", "cxx")):
        w.rule(f"link_exe_{lang}", f"${compiler} ${lang}flags $ldflags -fPIE -pie -Wl,--as-needed -o $out.new $in "
                                   "$libs && if cmp -s $out.new $out; then rm $out.new; else mv $out.new $out; fi",
               restat=True)
    w.rule("symlink", "ln -sfn $target $out")
    if any(not lib.compiles for lib in plan.libraries):
        w.rule("links_source", "printf '%s\\n' $text > $out")
    # a step whose command checks what it wrote gets its outputs in a file (the list may be thousands of paths long)
    w.rule("generate", "$cmd", description="generate $out ($kind $label)", rspfile="$outputs_list",
           rspfile_content="$out")
    _library_rules(w, thin=any(_hidden_archive_built(lib, plan) for lib in plan.libraries))
    if plan.tests:
        w.rule("run_test", f"sh {RUN_TEST} $cmd", description="test $label ($level)")
        w.rule("skip_test", "printf 'SKIP 0 %s\\n' $reason > $out")
    for lang in sorted({"cxx" if lib.cxx_link else "c" for lib in plan.test_libraries}):   # what tests load
        compiler = "cc" if lang == "c" else "cxx"
        w.rule(f"link_test_so_{lang}", f"${compiler} -shared ${lang}flags $ldflags -Wl,--as-needed -o $out $in $libs")
    w.newline()

    generic = level_dir(isa.GENERIC)
    for name in hosted:
        w.build(f"host-lib-{name}-build", "phony", f"{generic}/lib{name}.so")
        w.phony_at(f"host-lib-{name}-installed", "", INSTALLED_LIBDIR, f"/lib{name}.so")
        w.phony_at(f"host-lib-{name}", f"host-lib-{name}-", HOST_LIBS)
    host_inputs = {f"{generic}/lib{name}.so": f"host-lib-{name}" for name in hosted}
    by_name = {lib.spec.name: lib for lib in plan.libraries}
    for tool in plan.host_tools:
        _host_tool(w, tool, _waits(w, f"generated-host-{tool.name}", tool.generated, tool.siblings, by_name),
                   plan.recipe.config.compile_memory, plan.recipe.libdirs(tool.external_libs))
    # generated files are the same for every ISA level: made once, before the compiles that need them
    for step in plan.steps:
        listed = {"outputs_list": step.outputs_list} if step.outputs_list else {}
        w.build(step.outputs, "generate", [host_inputs.get(i, i) for i in step.inputs],
                implicit=[host_inputs.get(t, t) for t in step.tools],
                variables={"cmd": _shell(step.command), "kind": step.kind, "label": step.label, **listed})
    w.build("generated", "phony", [o for step in plan.steps for o in step.outputs])
    w.newline()

    levels = [isa.GENERIC] + [lvl.name for lvl in plan.levels]
    marches = {lvl.name: lvl.cflags for lvl in plan.levels}
    outputs: dict[str, list[str]] = {lvl: [] for lvl in levels}
    for lib in plan.libraries:
        waits = _waits(w, _generated_phony(lib), lib.generated, lib.siblings, by_name)
        for level in levels:
            if level != isa.GENERIC and not lib.copies:
                continue
            built = _library(w, lib, level, marches.get(level, ""), waits, plan, headers)
            w.build(library_target(lib.spec.name, level), "phony", built)
            outputs[level].append(library_target(lib.spec.name, level))
    outputs[isa.GENERIC].append("generated")   # generated headers are installed by the -dev package
    if plan.tests:
        _tests(w, plan, levels, marches)
    for level in levels:
        w.build(level, "phony", outputs[level])
    for name, paths in (groups or {}).items():
        w.build(name, "phony", paths)
    w.default(isa.GENERIC)
    return out.getvalue()


def host_libraries(plan: Plan) -> list[str]:
    """The recipe libraries host tools link or generate steps load: built first in the build, the installed ones
    in the autopkgtest."""
    tools = {t for step in plan.steps for t in step.tools + step.inputs}
    loaded = {lib.spec.name for lib in plan.libraries if f"{level_dir(isa.GENERIC)}/lib{lib.spec.name}.so" in tools}
    return sorted({s for tool in plan.host_tools for s in tool.siblings} | loaded)


def _hidden_archive_built(lib: SharedLibrary, plan: Plan) -> bool:
    """Whether lib has a hidden_archive and a library of the plan links it."""
    return hidden_archive(lib, isa.GENERIC) is not None and any(lib.spec.name in x.siblings for x in plan.libraries)


def _library_rules(w: Writer, thin: bool) -> None:
    """The checks of a linked library, its static archive, and (`thin`) the archives of hidden_archive."""
    w.rule("check_variant", f"sh {CHECK_SCRIPT} $generic $in && touch $out")
    w.rule("check_identities", f"LD_LIBRARY_PATH=$dir sh {IDENTITIES_SCRIPT} $in && touch $out")
    # the objects' list goes in a file: a library may have thousands
    w.rule("check_exports", f"perl {EXPORTS_SCRIPT} $spec $lib $out.rsp && touch $out", **RSP)
    w.rule("static", "rm -f $out && $ar qcsD $out @$out.rsp", **RSP)
    if thin:
        w.rule("thin_archive", "rm -f $out && $ar qcsTD $out @$out.rsp", **RSP)


def library_target(name: str, level: str) -> str:
    """The phony target of one library's copy at one level: what one binary package installs."""
    return f"{name}@{level}"


def _generated_phony(lib: SharedLibrary) -> str:
    return f"generated-{lib.spec.name}"


def _linked(siblings: list[str], by_name: dict[str, SharedLibrary]) -> list[SharedLibrary]:
    """The recipe libraries a program (a library, a host tool, a test) links, transitively."""
    seen: list[SharedLibrary] = []
    stack = [by_name[s] for s in siblings if s in by_name]
    while stack:
        x = stack.pop()
        if x not in seen:
            seen.append(x)
            stack += [by_name[s] for s in x.siblings if s in by_name]
    return seen


def _waits(w: Writer, name: str, generated: list[str], siblings: list[str],
           by_name: dict[str, SharedLibrary]) -> list[str]:
    """What a program's compiles wait for: its own generated files (the phony `name`: torch's are thousands) and
    those of the recipe libraries it links, whose generated headers (TensorFlow's .pb.h, c10's cmake_macros.h)
    its sources include: in the autopkgtest's fresh tree, the libraries installed, nothing else makes them first."""
    if generated:
        w.build(name, "phony", generated)
    return [name] * bool(generated) + [_generated_phony(x) for x in _linked(siblings, by_name) if x.generated]


def _external_dirs(libdirs: list[str]) -> list[str]:
    """-L and RUNPATH for externals' libraries off ld.so's path (the -l names follow)."""
    return [f"-L{d}" for d in libdirs] + [f"-Wl,-rpath,{d}" for d in libdirs]


def _host_tool(w: Writer, tool: HostTool, waits: list[str], memory: dict[str, int], libdirs: list[str]) -> None:
    objs = []
    for c in tool.compiles:
        objs.append(f"{HOST_DIR}/obj/{tool.name}/{c.src}.o")
        w.build(objs[-1], COMPILE_RULE[c.lang], c.src, order_only=waits, variables={"copts": _shell(c.flags)},
                pool=pools.pool_of(memory, c.src))
    generic = level_dir(isa.GENERIC)
    libs = _shell([f"-L{generic}"] * bool(tool.siblings) + [f"-l{s}" for s in tool.siblings] + tool.linkopts +
                  _external_dirs(libdirs) + [f"-l{x}" for x in tool.external_libs])
    if tool.siblings:   # the tool runs from the build tree: its RUNPATH finds the recipe libraries' generic copies
        origin = os.path.relpath(generic, os.path.dirname(tool.path))
        libs += f" -Wl,-rpath,'$ORIGIN/{origin}'"
    w.build(tool.path, "link_exe_cxx" if tool.cxx_link else "link_exe_c", objs,
            implicit=[f"host-lib-{s}" for s in tool.siblings], variables={"libs": libs})
    w.newline()


def _reached_externals(plan: Plan, lib: SharedLibrary) -> str:
    """The externals lib reaches, for LINK_SCRIPT: repository, -dev packages, libs ("-": none). Not their recipe
    lines, which the script looks up: a line moved by an edit elsewhere would change every link command."""
    return _shell([x for e in plan.recipe.externals.values() if set(e.packages) & set(lib.build_depends)
                   for x in (e.repo, ",".join(e.packages), ",".join(e.libs) or "-")])


def _library(w: Writer, lib: SharedLibrary, level: str, march: str, waits: list[str], plan: Plan,
             headers: list[str]) -> list[str]:
    memory, libdirs = plan.recipe.config.compile_memory, plan.recipe.libdirs(lib.external_libs)
    objs = [] if lib.compiles else [_links_object(w, lib)]
    for c in lib.compiles:
        if level != isa.GENERIC and not c.level_sensitive:   # level-neutral: the baseline's object, built once
            objs.append(object_path(isa.GENERIC, lib, c.src))
            continue
        obj = object_path(level, lib, c.src)
        variables = {"copts": _shell(c.flags)}
        if march:
            variables["march"] = march
        w.build(obj, COMPILE_RULE[c.lang], c.src, order_only=waits,
                variables=variables, pool=pools.pool_of(memory, c.src))
        objs.append(obj)
    d = level_dir(level)
    real = f"{d}/{lib.filename}"
    script = [version_script_path(lib.spec.name)] if lib.spec.exports else \
        [lib.version_script] if lib.version_script else []
    by_name = {x.spec.name: x for x in plan.libraries}
    if _hidden_archive_built(lib, plan):
        w.build(hidden_archive(lib, level), "thin_archive", objs)
    sibling_archives = [a for a in (hidden_archive(by_name[s], level) for s in lib.siblings if s in by_name) if a]
    siblings = [f"-l{s}" for s in lib.siblings]
    if not lib.compiles:   # a library that only links those it depends on (CMake's libtorch): not --as-needed
        siblings = ["-Wl,--push-state,--no-as-needed", *(f"-l{s}" for s in lib.direct), "-Wl,--pop-state",
                    *(f"-l{s}" for s in lib.siblings if s not in lib.direct)]
    link_vars = {"soname": lib.soname,
                 "libs": _shell([f"-L{level_dir(isa.GENERIC)}"] * bool(lib.siblings) +
                                siblings + sibling_archives + lib.linkopts +
                                _external_dirs(libdirs) +
                                [f"-l{x}" for x in lib.external_libs] +
                                [f"-Wl,--version-script={p}" for p in script]),
                 "externals": _reached_externals(plan, lib)}
    if march:
        link_vars["march"] = march
        if lib.siblings:
            # a copy in glibc-hwcaps/<level>/ has $ORIGIN there; its siblings live two directories up
            link_vars["rpath"] = "-Wl,-rpath,'$ORIGIN:$ORIGIN/../..'"
    sibling_files = [f"{level_dir(isa.GENERIC)}/lib{s}.so" for s in lib.siblings]
    w.build(real, "link_cxx" if lib.cxx_link else "link_c", objs,
            implicit=sibling_files + sibling_archives + script + [LINK_SCRIPT],
            variables=link_vars)
    soname_link = f"{d}/{lib.soname}"
    dev_link = f"{d}/lib{lib.spec.name}.so"
    if soname_link != real:   # a SONAME with the full version (libfoo.so.2.14.1) is the file itself
        w.build(soname_link, "symlink", real, variables={"target": lib.filename})
    w.build(dev_link, "symlink", soname_link, variables={"target": lib.soname})
    built = [real] + [soname_link] * (soname_link != real) + [dev_link]
    if level != isa.GENERIC:
        stamp = f"{d}/checks/{lib.filename}.ok"
        generic = f"{level_dir(isa.GENERIC)}/{lib.filename}"
        w.build(stamp, "check_variant", real, implicit=[generic, CHECK_SCRIPT], variables={"generic": generic})
        built.append(stamp)
    else:
        built += _generic_extras(w, lib, objs, plan, headers)
    w.newline()
    return built


def _links_object(w: Writer, lib: SharedLibrary) -> str:
    """The one object of a library of no code of its own (CMake's libtorch, of its DUMMY_EMPTY_FILE): a string
    naming what it links, so that it has debug information for dh_strip to split off, as every library does."""
    src, obj = f"{GENDIR}/debforge/{lib.spec.name}-links.c", object_path(isa.GENERIC, lib, "links.c")
    text = f'static const char links[] __attribute__((used)) = "{" ".join(lib.siblings)}";'
    w.build(src, "links_source", variables={"text": _shell(
        [f"/* lib{lib.spec.name}: no code of its own; it links {', '.join(lib.siblings)} */", text])})
    w.build(obj, "cc", src, variables={"copts": ""})
    return obj   # built once: such a library has no ISA-level copies (none of its code is level-sensitive)


def _generic_extras(w: Writer, lib: SharedLibrary, objs: list[str], plan: Plan, headers: list[str]) -> list[str]:
    """What the baseline build adds: the check that it keeps no copy of a function-local static a library it loads
    exports (IDENTITIES_SCRIPT), the check of the recipe's exports, and the static library (the -dev package's,
    from the same objects; a GPU flavour's libraries have none)."""
    real = f"{level_dir(isa.GENERIC)}/{lib.filename}"
    # its siblings' copies in the build tree, which it loads, are linked before it is
    out = [f"{level_dir(isa.GENERIC)}/checks/{lib.filename}.identities.ok"]
    w.build(out[0], "check_identities", real, implicit=[IDENTITIES_SCRIPT], variables={"dir": level_dir(isa.GENERIC)})
    if lib.spec.exports:
        stamp = f"{level_dir(isa.GENERIC)}/checks/{lib.filename}.exports.ok"
        spec = exports_spec_path(lib.spec.name)
        w.build(stamp, "check_exports", objs, implicit=[real, spec, EXPORTS_SCRIPT] +
                [h for h in headers if h.startswith(GENDIR + "/")], variables={"spec": spec, "lib": real})
        out.append(stamp)
    if plan.recipe.static and not plan.flavor and lib.compiles:   # a library of no code of its own has none
        w.build(static_path(lib.spec.name), "static", objs)
        out.append(static_path(lib.spec.name))
    return out


# upstream's tests: programs per level, run by debian/debforge/run-test; "build" runs them against the copies in
# the build tree, "installed" (the autopkgtest) links and runs them against the installed packages
TEST_MODES = {"build": "tests", "installed": "installed-tests"}


def test_dir(level: str) -> str:
    return f"{level_dir(level)}/tests"


def tests_target(mode: str, level: str, group: str) -> str:
    """The phony target that runs the tests of a group ('' for those every build runs) at one level, against the
    build tree's copies or the installed ones."""
    return f"{TEST_MODES[mode]}{group}@{level}"


def test_group(test: TestProgram, by_name: dict[str, SharedLibrary]) -> tuple[str, ...]:
    """The build-profiled packages a test links (none for most): a build under the profile leaves them out and
    runs the other tests (a c10-only PyTorch build runs c10's tests, not ATen's, whose libtorch_cpu it lacks)."""
    return tuple(sorted({by_name[s].package.name for s in test.siblings
                         if s in by_name and by_name[s].package.build_profiles}))


def group_name(packages: tuple[str, ...]) -> str:
    """What a test group adds to its phony targets' names: '_PKG' per package (no package name has a '_')."""
    return "".join(f"_{p}" for p in packages)


def test_groups(plan: Plan) -> dict[str, tuple[str, ...]]:
    """The test groups beyond the one every build runs, by name: the packages they need."""
    by_name = {lib.spec.name: lib for lib in plan.libraries}
    return {group_name(g): g for g in sorted({test_group(t, by_name) for t in plan.tests}) if g}


def _tests(w: Writer, plan: Plan, levels: list[str], marches: dict[str, str]) -> None:
    by_name = {lib.spec.name: lib for lib in plan.libraries}
    # GLIBC_TUNABLES that make each level the best one ld.so supports: the level above it masked (isa.py)
    masks = {lvl: f"glibc.cpu.hwcaps={above.hwcap_mask}" for lvl, above in
             zip([isa.GENERIC, *[x.name for x in plan.levels]], plan.levels)}
    masks.update({lvl: "" for lvl in levels if lvl not in masks})
    compiled: set[str] = set()
    results: dict[tuple[str, str, str], list[str]] = {}
    for lib in plan.test_libraries:   # staged as data; no recipe library linked (plan.TestLibrary says why)
        waits = _waits(w, f"generated-{lib.path}", lib.generated, lib.siblings, by_name)
        objs = _test_objects(w, lib, isa.GENERIC, "", waits, compiled, plan.recipe.config)
        flags = lib.linkopts + _external_dirs(plan.recipe.libdirs(lib.external_libs)) + \
            [f"-l{x}" for x in lib.external_libs]
        w.build(lib.path, f"link_test_so_{'cxx' if lib.cxx_link else 'c'}", objs,
                variables={"libs": _shell(flags)})
    for test in plan.tests:
        runfiles = _runfiles(w, plan, test)
        group = group_name(test_group(test, by_name))
        waits = _waits(w, f"generated-test-{test.name}", test.generated, test.siblings, by_name)
        for level in levels:
            objs = _test_objects(w, test, level, marches.get(level, ""), waits, compiled, plan.recipe.config)
            for mode in TEST_MODES:
                exe = f"{test_dir(level)}/{mode}/bin/{test.name}"
                _test_link(w, test, level, mode, exe, objs, marches.get(level, ""), by_name, plan.recipe)
                result = f"{test_dir(level)}/{mode}/results/{test.name}.result"
                varied = [f"lib{s}.so.{by_name[s].spec.soversion}" for s in test.siblings
                          if s in by_name and (level == isa.GENERIC or by_name[s].variants)]
                args = [result, level, mode, str(test.timeout), str(test.attempts), runfiles,
                        test.known_failures.get(level, ""), " ".join(varied), masks[level], "--",
                        *[f"{k}={v}" for k, v in sorted(test.env.items())], exe, *test.args]
                w.build(result, "run_test", exe, implicit=[RUN_TEST], order_only=[f"{runfiles}.staged"],
                        variables={"cmd": _shell(args), "label": test.label, "level": level})
                results.setdefault((mode, level, group), []).append(result)
    for label, reason in plan.tests_left_out:   # a result saying why, for each level's summary
        for level in levels:
            for mode in TEST_MODES:
                result = f"{test_dir(level)}/{mode}/results/{test_name(label)}.result"
                w.build(result, "skip_test", variables={"reason": escape.shell(reason)})
                results.setdefault((mode, level, ""), []).append(result)
    for (mode, level, group), outs in results.items():
        w.build(tests_target(mode, level, group), "phony", outs)
    w.newline()


def _runfiles(w: Writer, plan: Plan, test: TestProgram) -> str:
    """The test's runfiles tree, its data under upstream's repository name as bazel lays it out: the directory
    the test runs in."""
    root = f"{BUILDDIR}/tests/runfiles/{test.name}.runfiles/{plan.workspace}"
    links = []
    for path in test.data:
        link = f"{root}/{runfiles_path(path)}"
        w.build(link, "symlink", path, variables={"target": os.path.relpath(path, os.path.dirname(link))})
        links.append(link)
    w.build(f"{root}.staged", "phony", links)
    return root


def _test_objects(w: Writer, test: TestProgram | TestLibrary, level: str, march: str, waits: list[str],
                  compiled: set[str], config) -> list[str]:
    """The test's objects at `level` (a level-neutral one at the baseline's); each target's compiled once,
    whichever tests share it."""
    objs = []
    for c in test.compiles:
        at = level if c.level_sensitive else isa.GENERIC
        obj = f"{test_dir(at)}/obj/{test_name(c.owner)}/{c.src}.o"
        objs.append(obj)
        if obj in compiled:
            continue
        compiled.add(obj)
        variables = {"copts": _shell(c.flags)}
        if march and at != isa.GENERIC:
            variables["march"] = march
        w.build(obj, COMPILE_RULE[c.lang], c.src, order_only=waits, variables=variables,
                pool=pools.pool_of(config.compile_memory, c.src))
    return objs


def _test_link(w: Writer, test: TestProgram, level: str, mode: str, exe: str, objs: list[str], march: str,
               by_name: dict[str, SharedLibrary], recipe) -> None:
    """Link a test at `level`: in the build tree against that level's copies (the generic one for libraries
    without variants, also for -L), installed against the system's (ld.so picks the copy when it runs)."""
    dirs = [level_dir(level)] * (level != isa.GENERIC) + [level_dir(isa.GENERIC)]
    libs = [f"{level_dir(level) if by_name[s].variants else level_dir(isa.GENERIC)}/lib{s}.so"
            for s in test.siblings if s in by_name] if mode == "build" else []
    flags = [f"-L{d}" for d in dirs] * (mode == "build") + [f"-l{s}" for s in test.siblings] + test.linkopts + \
        _external_dirs(recipe.libdirs(test.external_libs)) + [f"-l{x}" for x in test.external_libs]
    w.build(exe, "link_test_cxx" if test.cxx_link else "link_test_c", objs, implicit=libs,
            variables={"libs": _shell(flags), **({"march": march} if march else {})})
