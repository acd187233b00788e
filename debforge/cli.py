"""The debforge command line: check, scan, generate, build, update, measure-levels."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path

from . import __version__, measure, pipeline, update, upstream
from .backends import debian
from .backends.debian import flavor as debian_flavor
from .backends.debian import tree as debian_tree
from .backends.debian.packages import generic_name
from .core.errors import DebforgeError
from .core.isa import ARCHES
from .drivers import archive, dpkg, sbuild
from .flavors import FLAVORS

EXIT_INPUT = 2
EXIT_BUG = 3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _progress(i: int, n: int, what: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[Kdebforge: evaluating {i}/{n} {what}", end="" if i < n else "\n", file=sys.stderr, flush=True)
    elif i == n or i % 100 == 0:
        log(f"debforge: evaluated {i}/{n} packages")


def cmd_check(args) -> int:
    recipe = pipeline.load_recipe(args.recipe)
    libs = ", ".join(f"lib{lib.name}.so.{lib.soversion} ({lib.target})" for _, lib in recipe.libraries())
    print(f"{recipe.path}: OK: {recipe.source} {recipe.full_version}, frontend {recipe.frontend}, "
          f"architectures {' '.join(recipe.architectures)}, ISA levels {' '.join(recipe.isa_levels) or 'none'}; "
          f"libraries: {libs}")
    return 0


def cmd_scan(args) -> int:
    recipe = pipeline.load_recipe(args.recipe)
    with upstream.Output(Path(args.output)) as out:
        up = upstream.prepare(recipe, out, args.source and Path(args.source), log)
        started = time.monotonic()
        g, hits = pipeline.scan_graph(recipe, up.tree, args.arch, _progress, not args.no_cache)
        if not g.skipped:   # a failing scan (exit 2) writes nothing; a good one keeps the orig and tree
            out.commit()
    root = up.final
    if args.json:
        print(g.to_json())
    else:
        cached = f"; {hits} from the scan cache" if hits is not None else ""
        print(f"{root}: {len(g.packages)} packages evaluated, {len(g.skipped)} failed, {len(g.targets)} targets "
              f"in {time.monotonic() - started:.2f} s (arch {args.arch}{cached})")
        print("targets by rule kind:")
        for kind, n in g.kinds().items():
            print(f"  {kind:40} {n}")
        if g.external_loads:
            print(f"{len(g.external_loads)} .bzl files of external repositories have no stand-in; their symbols "
                  f"record targets of their own kind (add a stand-in or recipe bazel.repositories to do better):")
            for label, symbols in sorted(g.external_loads.items()):
                print(f"  {label}: {', '.join(symbols)}")
        if g.unknown_conditions:
            print(f"{len(g.unknown_conditions)} select() conditions name no setting this tree declares there (in a "
                  f"package the tree lacks, or relative in a .bzl global), taken as false:")
            for label, n in sorted(g.unknown_conditions.items()):
                print(f"  {label} (in {n} packages)")
        for file, reason in sorted(g.skipped.items()):
            print(f"failed: {reason}")
    return EXIT_INPUT if g.skipped else 0


def generate(recipe_path: str, output: str, source: str | None, force: bool,
             diff: bool = False, flavor: str | None = None, keep_plans: dict | None = None) -> tuple[Path, object]:
    """Prepare the upstream tree and write its debian/ (or the flavour's source package); the output directory
    changes only once everything succeeded, and not at all with --diff. `keep_plans`, if given, receives the plan
    of each architecture (update's graph diff)."""
    recipe = pipeline.load_recipe(recipe_path)
    if flavor:
        recipe.flavor(flavor)   # the recipe configures it: checked before any download
    with upstream.Output(Path(output)) as out:
        up = upstream.prepare(recipe, out, source and Path(source), log)
        if flavor:
            up, files = generate_flavor(recipe, FLAVORS[flavor], up, out)
        else:
            contents = archive.externals_contents(recipe, log)
            plans = pipeline.plan_arches(recipe, up.tree, log, up.final, contents)
            epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or upstream.newest_mtime(up.tree))
            files = debian.render(recipe, plans, up.tree, epoch, contents)
        update = debian_tree.plan(up.debian, files, force=force)
        if keep_plans is not None and not flavor:
            keep_plans.update(plans)
        if diff:
            sys.stdout.write(debian_tree.diff(update))
            log(f"debforge: {len(update.write) + len(update.remove)} files of {up.final / 'debian'} would change; "
                f"nothing written (run without --diff to write them)")
        else:
            debian_tree.apply(update)
            out.commit()
            _written(up.final / "debian", update)
    return up.final, recipe


def generate_flavor(recipe, flavor, prepared: upstream.Prepared, out) -> tuple[upstream.Prepared, dict]:
    """The source package <source>-<flavor>: its orig tarball (a README, no upstream code) and debian/'s files,
    planned from the same upstream tree as the CPU package, under the flavour's configuration."""
    tree = prepared.tree
    plans = pipeline.plan_flavor_arches(recipe, flavor, tree, log, prepared.final)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or upstream.newest_mtime(tree))
    up = upstream.prepare_flavor(out, debian_flavor.source_name(recipe, flavor), recipe, flavor.summary, epoch)
    return up, debian_flavor.render(recipe, flavor, plans, tree, up.tree, epoch)


def _written(debian_dir: Path, update) -> None:
    log(f"debforge: {debian_dir}: {len(update.write)} files written, {len(update.remove)} removed")
    for rel in update.replaced:
        log(f"debforge: replaced debian/{rel} (--force); the old one is debian/{rel}.debforge-old")
    for rel, why in sorted(update.kept.items()):
        log(f"debforge: kept debian/{rel}: {why}")
    if update.kept:
        log("  run generate again with --diff to see what debforge would write instead, with --force to write it")


def cmd_generate(args) -> int:
    tree, _ = generate(args.recipe, args.output, args.source, args.force, args.diff, args.flavor)
    if args.diff:
        return 0
    print(tree)
    log(f"next: cd {tree} && dpkg-buildpackage -us -uc   (or: debforge build {args.recipe})")
    return 0


def cmd_build(args) -> int:
    if args.recipe is None and args.sbuild and Path(args.sbuild).is_file():
        args.recipe, args.sbuild = args.sbuild, sbuild.DEFAULT_SUITE  # `--sbuild RECIPE`: the suite was left out
    if args.recipe is None:
        raise DebforgeError("build needs a RECIPE", hint="debforge build [--sbuild [SUITE]] RECIPE")
    if (args.refresh_chroot or args.check_reproducible is not None or args.compiler_cache) and not args.sbuild:
        raise DebforgeError("--refresh-chroot, --[no-]check-reproducible and --compiler-cache need --sbuild")
    if args.sbuild:
        sbuild.preflight()  # before any work
    if args.flavor and args.sbuild:
        raise DebforgeError("--flavor builds need <source>-src installed; build them with dpkg-buildpackage, "
                            "not --sbuild")
    profiles = _profiles(args.profiles, args.recipe)
    if not args.sbuild:   # here, not in a chroot of the suite: the installed -dev packages are what the build uses
        dpkg.check_versions(pipeline.load_recipe(args.recipe))
    tree, recipe = generate(args.recipe, args.output, args.source, args.force, flavor=args.flavor)
    libraries = {generic_name(p): p for p in recipe.packages}   # the packages whose symbols files are recorded
    if args.sbuild:
        return sbuild.build_and_check(tree, recipe, libraries, args.sbuild, args.refresh_chroot,
                                      not args.no_lintian, args.check_reproducible is not False, log, profiles,
                                      args.compiler_cache and args.compiler_cache.resolve())
    try:
        changes = dpkg.dpkg_buildpackage(tree, log, profiles)
    except DebforgeError as exc:   # a link that misses an external's library: say which, and the recipe key
        found = exc.file and archive.undefined_externals(Path(exc.file), recipe, archive.externals_contents(recipe))
        if found:
            exc.hint = "\n  ".join(found)
        raise
    for deb in dpkg.debs_of(changes):
        log(f"  built {deb.name}")
    for note in dpkg.record_symbols(changes, recipe, libraries):
        log(f"debforge: {note}")
    print(changes)
    if args.no_lintian:
        return 0
    errors, warnings, out = dpkg.lintian(changes)
    log(out.rstrip())
    log(f"debforge: lintian: {errors} errors, {warnings} warnings")
    return 1 if errors or warnings else 0


def cmd_update(args) -> int:
    output = Path(args.output)
    diff, notes = update.run(Path(args.recipe), args.version, args.suite, args.tarball, args.abi, output, generate, log)
    for note in notes:
        log(f"debforge: {note}")
    if diff is None:
        return 0
    full = output / f"{diff.source}_{diff.new_version}.graphdiff"
    full.write_text(diff.render(shown=None))
    full.with_suffix(".graphdiff.json").write_text(diff.to_json())
    print(diff.to_json() if args.json else diff.render(), end="\n" if args.json else "")
    log(f"debforge: the whole graph diff: {full} (and {full.name}.json)")
    up = pipeline.load_recipe(Path(args.recipe)).upstream   # built in the suite it now comes from
    suite = f"{up.suite} " if up.debian and up.suite != sbuild.DEFAULT_SUITE else ""
    log(f"next: debforge build --sbuild {suite}{args.recipe}" + (f" -o {output}" if args.output != "build" else ""))
    return 0


def cmd_measure_levels(args) -> int:
    if args.sample is not None and args.sample < 1 or args.jobs < 1 or args.threshold < 1:
        log("debforge measure-levels: --sample, --jobs and --threshold must be at least 1")
        return EXIT_INPUT
    built = args.from_build and Path(args.from_build).resolve()
    if built and not (built / "debian/debforge").is_dir():
        log(f"debforge measure-levels: {args.from_build} is not a tree written by debforge generate")
        return EXIT_INPUT
    root = args.build_in and Path(args.build_in).resolve()
    if root and not (built and (root / "usr/bin/ninja").is_file() and (root / str(built).lstrip("/")).is_dir()):
        log("debforge measure-levels: --build-in ROOT needs --from-build TREE and a root with ninja where TREE is "
            "mounted at its own path (tools/chroot-build setup DIR TREE SUITE makes one: ROOT is DIR/root)")
        return EXIT_INPUT
    output, lines = measure.run(args.recipe, args.output and Path(args.output), args.sample, args.only,
                                args.threshold, args.jobs, log, built, root, args.within)
    print("\n".join(lines))
    print(f"wrote {output}")
    return 0


def _profiles(spec: str | None, recipe_path: str) -> list[str]:
    """--profiles: names the recipe's build-profiles restrictions use (a typo would silently build everything)."""
    if not spec:
        return []
    recipe = pipeline.load_recipe(recipe_path)
    known = sorted({m for formula in recipe.build_profiles() for m in re.findall(r"!?([a-z0-9][a-z0-9.+-]*)", formula)})
    unknown = [p for p in spec.split(",") if p not in known]
    if unknown:
        raise DebforgeError(f"build profile(s) {', '.join(unknown)} are not used by the recipe", recipe_path,
                            hint=f"its profiles: {', '.join(known) or 'none'} (packages' and headers' build-profiles)")
    return spec.split(",")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="debforge",
        description="Build Debian packages from upstream bazel metadata, with glibc-hwcaps ISA-level variants.",
        epilog="Errors in recipes or upstream files name the file and line and exit with status 2.")
    p.add_argument("--version", action="version", version=f"debforge {__version__}")
    p.add_argument("--debug", action="store_true", help="print the traceback of an internal error (a bug)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sp = sub.add_parser("check", help="validate a recipe", description="Validate a recipe and summarise it.")
    _common(sp, source=False)
    sp.set_defaults(func=cmd_check)

    sp = sub.add_parser("scan", help="evaluate upstream metadata and print the build graph",
                        description="Evaluate every BUILD file of the upstream tree and summarise the targets, "
                                    "or print the whole build-graph IR as JSON.")
    _common(sp)
    sp.add_argument("--arch", default="amd64", choices=sorted(ARCHES),
                    help="Debian architecture select() sees (default: amd64)")
    sp.add_argument("--json", action="store_true", help="print the build graph IR as JSON")
    sp.add_argument("--no-cache", action="store_true",
                    help="evaluate every package anew: neither read nor write the scan cache "
                         "(~/.cache/debforge/scan; also DEBFORGE_NO_SCAN_CACHE=1)")
    sp.set_defaults(func=cmd_scan)

    _generate_and_build(sub)
    _update(sub)
    _measure_levels(sub)
    return p


def _common(sp, source=True, recipe_nargs=None) -> None:
    sp.add_argument("recipe", nargs=recipe_nargs, help="recipe file (YAML), e.g. recipes/nsync.yaml")
    if source:
        sp.add_argument("-o", "--output", default="build",
                        help="directory for the orig tarball and the unpacked source (default: build)")
        sp.add_argument("--source", metavar="DIR",
                        help="use this upstream tree instead of the recipe's upstream")


def _generate_and_build(sub) -> None:
    for name, func, text in (
            ("generate", cmd_generate, "write the source package: upstream tree + debian/"),
            ("build", cmd_build, "generate, then dpkg-buildpackage and lintian")):
        sp = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        _common(sp, recipe_nargs="?" if name == "build" else None)  # `build --sbuild RECIPE` leaves it empty
        sp.add_argument("--force", action="store_true",
                        help="also overwrite generated files changed since debforge wrote them, and a debian/ that "
                             "debforge did not write (other files and the changelog history are kept)")
        sp.add_argument("--flavor", choices=sorted(FLAVORS),
                        help="the source package <source>-FLAVOR (contrib) that builds the recipe's GPU flavour "
                             "from <source>-src, instead of the main one")
        if name == "generate":
            sp.add_argument("--diff", action="store_true",
                            help="show what would change in debian/ as a unified diff, and write nothing")
        if name == "build":
            sp.add_argument("--no-lintian", action="store_true", help="skip lintian")
            sp.add_argument("--profiles", metavar="P[,P]",
                            help="build profiles (DEB_BUILD_PROFILES), e.g. pkg.pytorch.c10-only: the packages a "
                                 "recipe restricts with build-profiles are left out")
            sp.add_argument("--sbuild", nargs="?", const=sbuild.DEFAULT_SUITE, metavar="SUITE",
                            help="build with sbuild in a clean, offline unshare chroot of SUITE (default "
                                 f"{sbuild.DEFAULT_SUITE}), run that suite's lintian in it, and blhc on the log")
            sp.add_argument("--refresh-chroot", action="store_true",
                            help="with --sbuild: make the cached chroot tarball anew with mmdebstrap")
            sp.add_argument("--check-reproducible", action=argparse.BooleanOptionalAction,
                            help="with --sbuild: build a second time and require identical .debs (default: on)")
            sp.add_argument("--compiler-cache", metavar="DIR", type=Path,
                            help="with --sbuild: compile through ccache kept in DIR (made private to you), so that "
                                 "a build too long for one sitting, run again after an interruption, reuses the "
                                 "compiles the last run finished; the reproducibility build compiles everything "
                                 "again (--no-check-reproducible for builds of hours)")
        sp.set_defaults(func=func)


def _update(sub) -> None:
    sp = sub.add_parser(
        "update", help="move a recipe to a new upstream release, regenerate, and show the graph diff",
        description="Find the new upstream release (the newest in the suite's index for `upstream: debian`; for a "
                    "tarball upstream --tarball, or what uscan finds with the packaged release's debian/watch), "
                    "rewrite the recipe's version keeping its comments and layout, fetch it, refresh the recipe's "
                    "patches with quilt (one the release already contains is dropped, one that applied "
                    "with fuzz is refreshed, one that no longer applies stops the update with its rejected hunks), "
                    "regenerate debian/ keeping the maintainer's edits with a 'New upstream release' changelog "
                    "entry, and print the graph diff of the old and new plans per library (all of it in "
                    "OUTPUT/<source>_<version>.graphdiff and .graphdiff.json). Nothing is written when a step "
                    "before regeneration fails; the recipe is put back when regeneration fails.")
    _common(sp, source=False)
    sp.add_argument("-o", "--output", default="build",
                    help="directory for the orig tarball and the unpacked source (default: build)")
    sp.add_argument("--version", metavar="V", help="the upstream version to move to (default: the suite's newest)")
    sp.add_argument("--suite", metavar="S", help="take the release from this suite (recipe's upstream.suite becomes S)")
    sp.add_argument("--tarball", metavar="FILE",
                    help="for `upstream: {tarball: ...}` recipes: the new release's tarball (its version from its "
                         "name, or --version); without it, uscan finds the release with debian/watch")
    abi = sp.add_mutually_exclusive_group()
    abi.add_argument("--bump-abi", dest="abi", action="store_const", const="bump",
                     help="the release changes the ABI: package names and soversions that hold the old version's "
                          "first part follow the new one (libabsl20240722 -> libabsl20260107)")
    abi.add_argument("--keep-abi", dest="abi", action="store_const", const="keep",
                     help="package names and soversions that hold the old version's first part stay as they are")
    sp.add_argument("--json", action="store_true", help="print the graph diff as JSON")
    sp.set_defaults(func=cmd_update)


def _measure_levels(sub) -> None:
    sp = sub.add_parser(
        "measure-levels", help="measure which translation units an ISA level changes; write the level-sensitive file",
        description="Prepare and plan the recipe as generate does (in a temporary directory), compile each "
                    "translation unit with the build's own command line at Debian's baseline and at each ISA level "
                    "of the recipe, and count in each object the instructions with a ymm or zmm operand or an FMA "
                    "(objdump -d). A TU whose count at some level exceeds the baseline's by THRESHOLD or more is "
                    "level-sensitive (a vectorised loop or AVX2 intrinsics); one that fails to compile is counted as "
                    "sensitive. Writes the sorted list for the recipe's `level-sensitive: {file: PATH}` and prints, "
                    "per library, the share of TUs and object bytes that are sensitive and the largest deltas.",
        epilog="Example, for a big library on a small builder: "
               "debforge measure-levels recipes/tensorflow-lite.yaml --sample 40 --only 'tensorflow/lite/kernels/*'")
    _common(sp, source=False)
    sp.add_argument("-o", "--output", metavar="FILE",
                    help="the list to write (default: <source>.level-sensitive beside the recipe)")
    sp.add_argument("--sample", type=int, metavar="N",
                    help="measure N translation units per library, spread evenly in path order (default: all), "
                         "so that a big library fits a small builder")
    sp.add_argument("--only", action="append", default=[], metavar="GLOB",
                    help="also (or, without --sample, only) measure the sources matching GLOB (fnmatch, from the "
                         "tree root; repeatable)")
    sp.add_argument("--within", action="append", default=[], metavar="GLOB",
                    help="measure only among the sources matching GLOB (repeatable): --sample then spreads over "
                         "them, e.g. a sample of a big library's kernels alone")
    sp.add_argument("--threshold", type=int, default=measure.DEFAULT_THRESHOLD, metavar="T",
                    help=f"wide-vector instructions a level must add for a TU to be sensitive (default "
                         f"{measure.DEFAULT_THRESHOLD}: fewer are stray 32-byte copies, not vectorised loops)")
    sp.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="J",
                    help="compiles at once (default: the number of CPUs)")
    sp.add_argument("--from-build", metavar="TREE",
                    help="compile nothing: count the objects a build of every level left in TREE (a tree written "
                         "by generate without the recipe's level-sensitive key and built, e.g. by dpkg-buildpackage)")
    sp.add_argument("--build-in", metavar="ROOT",
                    help="with --from-build: first build, in the chroot ROOT (tools/chroot-build setup's DIR/root: "
                         "the Build-Depends, TREE mounted at its own path), the measured TUs' objects TREE lacks at "
                         "each level; one that fails to build counts as sensitive. For an upstream this machine "
                         "cannot compile (e.g. PyTorch's trixie Build-Depends): --from-build TREE --build-in ROOT "
                         "--sample N")
    sp.set_defaults(func=cmd_measure_levels)


def _terminated(signum, frame):
    raise KeyboardInterrupt   # `kill` stops debforge as Ctrl-C does, and with it the tool it runs (streamed.py)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except DebforgeError as exc:
        log(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        log("debforge: interrupted")
        return 130
    except Exception as exc:   # no input may crash debforge: say what it crashed on, and that it is a bug
        if args.debug:
            traceback.print_exc()
        where = f"{args.recipe}: " if getattr(args, "recipe", None) else ""
        log(f"{where}internal error in `debforge {args.command}`: {type(exc).__name__}: {str(exc)[:500]}\n"
            f"  this is a bug in debforge; please report it with this input"
            f"{'' if args.debug else ' (--debug shows the traceback)'}")
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
