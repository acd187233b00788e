import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def cpu_runs(level: str, rtld: str = "/lib64/ld-linux-x86-64.so.2") -> bool:
    """Whether this CPU runs LEVEL's copies, as ld.so --help says ("supported, searched"); tests expect upstream's
    tests and the copies' loading at the levels the CPU runs and a skip at the others, never a hard-coded CPU."""
    if level == "generic":
        return True
    return f"  {level} (supported, searched)" in subprocess.run([rtld, "--help"], capture_output=True, text=True,
                                                                 check=True).stdout


def run_cli(*args, cwd=None, env=None):
    """Run the debforge CLI as a user would; returns CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "debforge.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


CHROOT_BUILD = ROOT / "tools/chroot-build"


def heavy_tree(tmp_path, recipe: str, name: str, suite: str) -> tuple[Path, Path]:
    """recipes/RECIPE.yaml's tree generated and a SUITE root with its Build-Depends set up (tools/chroot-build),
    both kept in $DEBFORGE_HEAVY_DIR/NAME when it is set, so that a build of hours spans sittings: (base, tree)."""
    base = (Path(os.environ["DEBFORGE_HEAVY_DIR"]) if os.environ.get("DEBFORGE_HEAVY_DIR") else tmp_path) / name
    gen = subprocess.run([ROOT / ".venv/bin/debforge", "generate", ROOT / f"recipes/{recipe}.yaml", "-o",
                          base / "gen"], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr[-3000:]
    tree = Path(gen.stdout.strip().splitlines()[-1])
    subprocess.run([CHROOT_BUILD, "setup", base, tree, suite], check=True, capture_output=True)
    return base, tree


def heavy_sbuild(recipe: str, name: str, suite: str, tests_passed: int) -> tuple[Path, dict[str, Path]]:
    """`debforge build --sbuild SUITE recipes/RECIPE.yaml` into $DEBFORGE_HEAVY_DIR/NAME/sbuild, compiling through
    the compiler cache $DEBFORGE_HEAVY_DIR/NAME-ccache, so that a build of hours run again after an interruption
    reuses the compiles the stopped one finished (without DEBFORGE_HEAVY_DIR: a fresh cache in /var/tmp, which
    sbuild's chroot root can reach). No reproducibility build: it would compile everything again. Checks what the
    build itself checks: exit 0, the suite's lintian clean in the chroot, blhc clean, upstream's tests (all
    TESTS_PASSED of them) passing in dh_auto_test at each level this CPU runs. Returns the output directory and
    its .debs by package name (no -dbgsym)."""
    heavy = os.environ.get("DEBFORGE_HEAVY_DIR")
    top = Path(heavy) if heavy else Path(tempfile.mkdtemp(prefix=f"debforge-heavy-{name}-", dir="/var/tmp"))
    out = top / name / "sbuild"
    build = run_cli("build", "--sbuild", suite, ROOT / f"recipes/{recipe}.yaml", "-o", out, "--compiler-cache",
                    top / f"{name}-ccache", "--no-check-reproducible")
    log = next(out.glob("*_amd64.build"), None)
    text = log.read_text(errors="replace") if log else ""
    failed = "\n".join(re.findall(r"^FAILED: .*(?:\n.*){0,8}", text, re.M))
    assert build.returncode == 0, build.stderr[-3000:] + failed[-6000:]
    assert f"debforge: lintian ({suite}'s, in the chroot): 0 errors, 0 warnings" in build.stderr
    assert "debforge: blhc: clean" in build.stderr
    for level in ("generic", "x86-64-v3", "x86-64-v4"):
        assert (f"debforge tests: {level} (build): {tests_passed} passed, 0 failed" if cpu_runs(level) else
                f"debforge tests: {level}: SKIPPED: this CPU does not support {level}") in text, text[-6000:]
    return out, {p.name.split("_")[0]: p for p in out.glob("*.deb") if "-dbgsym_" not in p.name}


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DEBFORGE_HEAVY"):
        return
    skip = pytest.mark.skip(reason="heavy: set DEBFORGE_HEAVY=1 to run")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def nsync_build(tmp_path_factory):
    """nsync built once per session by `debforge build` from Debian's orig tarball (the README's main job)."""
    out = tmp_path_factory.mktemp("nsync")
    proc = run_cli("build", ROOT / "recipes/nsync.yaml", "-o", out)
    assert proc.returncode == 0, proc.stderr[-4000:]
    changes = Path(proc.stdout.strip().splitlines()[-1])
    return {"out": out, "changes": changes, "tree": out / "nsync-1.29.2", "stderr": proc.stderr}


def fixture_recipe(path: Path, tree: Path, source: str, libraries: list[tuple[str, str]], tail: str = "") -> Path:
    """Write a minimal recipe over a fixture tree: one package lib<name>1 per (name, target) library, the -dev
    package lib<source>-dev; `tail` is YAML appended after the dev package line (its own keys, or more of dev's
    when indented)."""
    packages = "".join(f"  - name: lib{name}1\n    libraries:\n      - {{name: {name}, target: \"{target}\", "
                       f"soversion: 1}}\n" for name, target in libraries)
    path.write_text(f"""\
source: {source}
version: "1.0"
upstream: {{dir: {tree}}}
homepage: https://example.org/
maintainer: Test <test@example.org>
license: Apache-2.0
copyright: 2025 Test
summary: fixture
description: fixture
frontend: bazel
architectures: [amd64]
packages:
{packages}dev:
  package: lib{source}-dev
{tail}""")
    return path


def fixture_plan(recipe):
    """The amd64 plan of a recipe (a path or a loaded one) over a fixture tree: only what its libraries reach is
    evaluated."""
    from debforge import frontends
    from debforge.plan import make_plan
    from debforge.recipe.schema import load_recipe
    r = load_recipe(recipe) if isinstance(recipe, Path) else recipe
    return make_plan(r, frontends.get("bazel").scan(r.upstream.dir, r, "amd64", everything=False), "amd64")


def configure(tree: Path, recipe) -> None:
    """What debian/rules' override_dh_auto_configure gives a ninja run (debforge's scripts, the toolchain, the
    compile pools for 2 jobs), for ninja runs outside dpkg-buildpackage."""
    from debforge.data import SKEL
    from debforge.plan import pools
    shutil.copytree(SKEL / "debforge", tree / "debian/debforge", dirs_exist_ok=True)
    (tree / "obj-debforge").mkdir(exist_ok=True)
    (tree / "obj-debforge/config.ninja").write_text(
        "cc = gcc\ncxx = g++\ncppflags =\ncflags = -O2\ncxxflags = -O2\nldflags =\n")
    if recipe.config.compile_memory:
        subprocess.run(["perl", SKEL / "debforge/pools", tree / pools.POOLS_FILE, "2",
                        *pools.script_args(recipe.config.compile_memory)], check=True, capture_output=True)


def ninja_generic(recipe: Path, out: Path, library: str) -> subprocess.CompletedProcess:
    """`debforge generate` of a fixture recipe into OUT, then its generated ninja file run for one library's
    generic copy (as debian/rules would, without dpkg-buildpackage)."""
    from debforge.recipe.schema import load_recipe
    gen = run_cli("generate", recipe, "-o", out)
    assert gen.returncode == 0, gen.stderr
    tree = next(out.glob("*-1.0"))
    configure(tree, load_recipe(recipe))
    return subprocess.run(["ninja", "-f", "debian/debforge/build-amd64.ninja", f"{library}@generic"], cwd=tree,
                          capture_output=True, text=True)


def extract(deb: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def snapshot(root):
    """Every path under root with its content (or link target): what "nothing was written" compares."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as fh:
                    out[rel] = fh.read()
            else:
                out[rel] = "dir"
    return out
