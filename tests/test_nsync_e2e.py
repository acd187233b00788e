"""The whole chain on a real upstream: nsync 1.29.2 from Debian's archive -> .debs (issue: end to end)."""

import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, extract, run_cli

pytestmark = pytest.mark.slow
TRIPLET = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                         text=True).stdout.strip()
LIBS = ("libnsync.so.1", "libnsync_cpp.so.1")


def debs(build):
    return {p.name.split("_")[0]: p for p in build["out"].glob("*.deb")}


def test_packages_and_paths(nsync_build, tmp_path):
    d = debs(nsync_build)
    assert {"libnsync1", "libnsync1-generic", "libnsync1-avx2", "libnsync1-avx512", "libnsync-dev",
            "nsync-src"} <= set(d)
    lib = f"usr/lib/{TRIPLET}"
    gen = extract(d["libnsync1-generic"], tmp_path / "g")
    for so in LIBS:
        assert (gen / lib / so).is_symlink()
        assert (gen / lib / (so + ".29.2")).is_file()
    for pkg, level in (("libnsync1-avx2", "x86-64-v3"), ("libnsync1-avx512", "x86-64-v4")):
        root = extract(d[pkg], tmp_path / pkg)
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())
        libs = [f for f in files if not f.startswith("usr/share/")]
        assert libs == sorted(f"{lib}/glibc-hwcaps/{level}/{n}" for so in LIBS for n in (so, so + ".29.2")), files
    dev = extract(d["libnsync-dev"], tmp_path / "dev")
    assert (dev / "usr/include/nsync.h").is_file()
    assert (dev / lib / "libnsync.so").readlink() == Path("libnsync.so.1")
    src = extract(d["nsync-src"], tmp_path / "src")
    assert (src / "usr/src/nsync/nsync-1.29.2.tar.xz").is_file()
    names = subprocess.run(["tar", "tJf", src / "usr/src/nsync/nsync-1.29.2.tar.xz"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert "nsync-1.29.2/BUILD" in names and "nsync-1.29.2/debforge.yaml" in names
    assert not any(n.startswith("nsync-1.29.2/debian/") for n in names)


def test_relations(nsync_build):
    d = debs(nsync_build)
    field = lambda deb, f: subprocess.run(["dpkg-deb", "-f", deb, f], capture_output=True, text=True).stdout.strip()
    assert field(d["libnsync1"], "Depends") == "libnsync1-generic (= 1.29.2-1)"
    assert "libnsync1-avx2 (= 1.29.2-1)" in field(d["libnsync1"], "Recommends")
    for v in ("libnsync1-avx2", "libnsync1-avx512"):
        assert "libnsync1-generic (= 1.29.2-1)" in field(d[v], "Depends")
        assert field(d[v], "Multi-Arch") == "same"
    shlibs = subprocess.run(["dpkg-deb", "-I", d["libnsync1-generic"], "shlibs"], capture_output=True,
                            text=True).stdout
    assert "libnsync 1 libnsync1-generic (>= 1.29.2)" in shlibs


def test_lintian_clean(nsync_build):
    proc = subprocess.run(["lintian", "--pedantic", nsync_build["changes"]], capture_output=True, text=True)
    tags = [ln for ln in proc.stdout.splitlines() if ln[:2] in ("E:", "W:")]
    assert tags == [], proc.stdout
    # every override carries a reason
    for f in (nsync_build["tree"] / "debian").glob("*.lintian-overrides"):
        lines = f.read_text().splitlines()
        for i, ln in enumerate(lines):
            if ln and not ln.startswith("#"):
                assert i > 0 and lines[i - 1].startswith("# "), f"{f.name}: override without reason: {ln}"


def test_symbols_file_is_the_recipes_and_dpkg_gensymbols_reports_no_change(nsync_build, tmp_path):
    """recipes/nsync.symbols (both libraries: C, and C++ with plain functions only) goes into the -generic
    package's control area; dh_makeshlibs' dpkg-gensymbols finds the build's symbols the same (it prints a diff
    and a warning otherwise), and lintian's no-symbols-control-file is gone."""
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", debs(nsync_build)["libnsync1-generic"], control], check=True)
    recorded = (ROOT / "recipes/nsync.symbols").read_text()
    symbols = (control / "symbols").read_text()
    assert symbols.splitlines()[0] == "libnsync.so.1 libnsync1-generic #MINVER#"
    assert sorted(ln for ln in symbols.splitlines() if ln.startswith(" ")) == \
        sorted(ln for ln in recorded.splitlines() if ln.startswith(" "))
    log = next(nsync_build["out"].glob("*.build")).read_text()
    assert "dpkg-gensymbols: warning" not in log and "+++ dpkg-gensymbols" not in log
    assert "differ from" not in nsync_build["stderr"] and "recorded in" not in nsync_build["stderr"]
    lintian = subprocess.run(["lintian", "--pedantic", "--display-info", nsync_build["changes"]],
                             capture_output=True, text=True).stdout
    assert "no-symbols-control-file" not in lintian, lintian


def test_dev_package_has_no_static_library_as_debians(nsync_build, tmp_path):
    """recipes/nsync.yaml says static: false, as Debian's libnsync-dev ships none."""
    dev = extract(debs(nsync_build)["libnsync-dev"], tmp_path / "dev")
    assert not list(dev.rglob("*.a")) and (dev / f"usr/lib/{TRIPLET}/libnsync.so").is_symlink()


def test_blhc_clean(nsync_build):
    log = next(nsync_build["out"].glob("*.build"))
    text = log.read_text()
    assert re.search(r"gcc .* -fstack-protector-strong .* -c internal/mu\.c", text)  # full command lines
    proc = subprocess.run(["blhc", "--all", log], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout


def _dyn_symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", "--format=posix", path], capture_output=True, text=True,
                         check=True).stdout
    return {tuple(ln.split()[:2]) for ln in out.splitlines()}


def _soname(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.search(r"Library soname: \[(.*)\]", out).group(1)


def test_variants_match_generic(nsync_build):
    obj = nsync_build["tree"] / "obj-debforge"
    for so in LIBS:
        generic = obj / "generic" / (so + ".29.2")
        for level in ("x86-64-v3", "x86-64-v4"):
            variant = obj / level / (so + ".29.2")
            assert _soname(variant) == _soname(generic) == so
            assert _dyn_symbols(generic) <= _dyn_symbols(variant)
            assert "ISA needed" not in subprocess.run(["readelf", "-n", variant], capture_output=True,
                                                      text=True).stdout


def _disasm(path):
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True,
                          check=True).stdout


def test_v3_copy_uses_v3_instructions(nsync_build):
    """nsync's code gives the compiler no chance for ymm vectors (see the gemmlowp recipe for that proof), but the
    x86-64-v3 copy does use v3-only instructions (BMI2, VEX-encoded AVX) that the generic copy never has."""
    obj = nsync_build["tree"] / "obj-debforge"
    v3_only = re.compile(r"\b(shlx|shrx|sarx|andn|blsr|blsi|tzcnt|lzcnt|movbe|vmov\w+|vpbroadcast\w+)\b")
    generic = _disasm(obj / "generic/libnsync.so.1.29.2")
    v3 = _disasm(obj / "x86-64-v3/libnsync.so.1.29.2")
    assert not v3_only.search(generic)
    assert len(v3_only.findall(v3)) > 10


def test_build_log_runs_variant_checks(nsync_build):
    log = next(nsync_build["out"].glob("*.build")).read_text()
    assert log.count("check-variant: obj-debforge/x86-64-v") == 4


def test_generate_is_deterministic(tmp_path):
    """Same inputs twice -> byte-identical debian/ (including the ninja files), also when the second run
    regenerates over the first's debian/."""
    trees = []
    for name in ("a", "b", "b"):
        proc = run_cli("generate", ROOT / "recipes/nsync.yaml", "-o", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        trees.append(Path(proc.stdout.strip()) / "debian")
    assert "0 files written, 0 removed" in proc.stderr
    diff = subprocess.run(["diff", "-r", trees[0], trees[1]], capture_output=True, text=True)
    assert diff.returncode == 0, diff.stdout
    assert (trees[0] / "debforge/build-amd64.ninja").stat().st_size > 1000
