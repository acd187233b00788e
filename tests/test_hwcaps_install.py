"""The ISA variants after a real install (issue 3): nsync's .debs go into a clean bookworm root; ld.so must map the
best copy that it reports as supported, fall back when a level is masked or its package removed, and dpkg/apt must
keep the packages' relations. Expectations come from ld.so --help in the root, never from a hard-coded CPU."""

import os
import re
import shutil
import subprocess

import pytest
from debian.deb822 import Deb822

import testbed
from conftest import cpu_runs
from debforge.core import isa

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="a clean root needs root (dpkg inside sets owners)")]
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
TRIPLET = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                         text=True).stdout.strip()
LIBDIR = f"/usr/lib/{TRIPLET}"
V3, V4 = isa.X86_64_V3, isa.X86_64_V4
# a reverse dependency: uses nsync through its installed headers
PROGRAM = r"""
#include <nsync.h>
int main(void)
{
    nsync_mu mu;
    nsync_mu_init(&mu);
    nsync_mu_lock(&mu);
    nsync_mu_unlock(&mu);
    return 0;
}
"""

if ARCH != "amd64":
    pytest.skip("the ISA levels under test are amd64's", allow_module_level=True)


@pytest.fixture(scope="module")
def tarball():
    return testbed.tarball("bookworm", ARCH)


@pytest.fixture(scope="module")
def base(tarball, tmp_path_factory):
    path = testbed.unpack(tarball, tmp_path_factory.mktemp("base"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def root(base, tmp_path):
    with testbed.Root(base, tmp_path / "root") as r:
        yield r


def debs(build):
    return {p.name.split("_")[0]: p for p in build["out"].glob("*.deb") if "-dbgsym_" not in p.name}


def install(root, *debs):
    root.run("dpkg", "-i", *root.copy_in(*debs))


def build_program(root):
    (root.path / "tmp/prog.c").write_text(PROGRAM)
    root.run("cc", "-o", "/tmp/prog", "/tmp/prog.c", "-lnsync")


def supported(root, tunables=""):
    """The glibc-hwcaps levels ld.so in the root reports as supported, under GLIBC_TUNABLES."""
    out = root.run("/lib64/ld-linux-x86-64.so.2", "--help", env={"GLIBC_TUNABLES": tunables}).stdout
    return set(re.findall(r"^  (\S+) \(supported, searched\)$", out, re.M))


def loaded(root, tunables=""):
    """The copy of libnsync.so.1 that ld.so maps for the program, from its own LD_DEBUG=libs trace."""
    err = root.run("/tmp/prog", env={"LD_DEBUG": "libs", "GLIBC_TUNABLES": tunables}).stderr
    return _real(root, re.search(r"calling init: (\S*/libnsync\.so\.1[.\d]*)$", err, re.M).group(1))


def copy(root, level=None):
    return _real(root, f"{LIBDIR}/glibc-hwcaps/{level.name}/libnsync.so.1" if level else f"{LIBDIR}/libnsync.so.1")


def _real(root, path):
    """PATH inside the root with symlinks resolved: ld.so.cache names /lib/<triplet>/..., a merged-/usr link."""
    return (root.path / path.lstrip("/")).resolve()


def cache(root):
    return root.run("ldconfig", "-p").stdout


def mask(level):
    return f"glibc.cpu.hwcaps={level.hwcap_mask}"


def test_ldconfig_dispatch_and_fallback(nsync_build, root):
    d = debs(nsync_build)
    install(root, d["libnsync1-generic"], d["libnsync1"], d["libnsync-dev"], d["libnsync1-avx2"])
    root.run("ldconfig")
    for so in ("libnsync.so.1", "libnsync_cpp.so.1"):
        assert re.search(rf'{so} \(libc6,x86-64, hwcap: "x86-64-v3"\) => \S*/{TRIPLET}/glibc-hwcaps/x86-64-v3/{so}\S*$',
                         cache(root), re.M)
    build_program(root)
    if V3.name not in supported(root):
        pytest.skip("this CPU lacks x86-64-v3: nothing to dispatch to")
    assert loaded(root) == copy(root, V3)
    assert V3.name not in supported(root, mask(V3))
    assert loaded(root, mask(V3)) == copy(root)

    install(root, d["libnsync1-avx512"])
    best = V4 if V4.name in supported(root) else V3
    assert loaded(root) == copy(root, best)
    assert loaded(root, mask(V4)) == copy(root, V3)
    assert loaded(root, mask(V3)) == copy(root)  # v4 needs v3: masking AVX2 drops both

    # removing a variant falls back to the next copy; dpkg's ldconfig trigger keeps the cache right
    root.run("dpkg", "-r", "libnsync1-avx512")
    assert loaded(root) == copy(root, V3)
    root.run("dpkg", "-r", "libnsync1-avx2")
    assert "hwcap" not in cache(root)
    assert loaded(root) == copy(root)


def repack(deb, dest, version=None, triggers=True):
    """The package as a build of another Debian revision would make it, or without its DEBIAN/triggers."""
    tree = dest / deb.stem
    subprocess.run(["dpkg-deb", "-R", deb, tree], check=True)
    control = tree / "DEBIAN/control"
    fields = Deb822(control.read_text())
    if version:
        old = fields["Version"]
        fields["Version"] = version
        fields["Depends"] = fields["Depends"].replace(f"(= {old})", f"(= {version})")
    control.write_text(fields.dump())
    if not triggers:
        (tree / "DEBIAN/triggers").unlink()
    out = dest / f"{fields['Package']}_{fields['Version']}_{fields['Architecture']}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, out], check=True, capture_output=True)
    return out


def test_variant_trigger_is_needed(nsync_build, root, tmp_path):
    """Without its own ldconfig trigger a variant's copy is not in ld.so.cache, and ld.so keeps the cached generic
    copy even though the variant's directory is on the search path: the trigger (and its lintian override) stays."""
    d = debs(nsync_build)
    install(root, d["libnsync1-generic"], d["libnsync1"], d["libnsync-dev"])
    build_program(root)
    install(root, repack(d["libnsync1-avx2"], tmp_path, triggers=False))
    assert "hwcap" not in cache(root)
    if V3.name in supported(root):
        assert loaded(root) == copy(root)
    install(root, d["libnsync1-avx2"])
    assert 'hwcap: "x86-64-v3"' in cache(root)
    if V3.name in supported(root):
        assert loaded(root) == copy(root, V3)


def test_mismatched_variant_is_refused(nsync_build, root, tmp_path):
    d = debs(nsync_build)
    install(root, d["libnsync1-generic"], d["libnsync1"])
    newer = repack(d["libnsync1-avx2"], tmp_path, version="1.29.2-2")
    [path] = root.copy_in(newer)
    proc = root.run("apt-get", "install", "-y", "--no-install-recommends", path, check=False)
    assert proc.returncode != 0
    assert "Depends: libnsync1-generic (= 1.29.2-2) but 1.29.2-1 is to be installed" in proc.stdout
    proc = root.run("dpkg", "-i", path, check=False)
    assert proc.returncode != 0 and "libnsync1-generic (= 1.29.2-2)" in proc.stderr
    root.run("dpkg", "-r", "libnsync1-avx2")   # dpkg -i left it unpacked, unconfigured
    assert 'hwcap' not in cache(root)


def test_shlibdeps_of_a_reverse_dependency_name_generic(nsync_build, root):
    """With every variant installed, dpkg-shlibdeps still maps libnsync.so.1 to the generic package."""
    d = debs(nsync_build)
    install(root, *(d[p] for p in ("libnsync1-generic", "libnsync1", "libnsync-dev", "libnsync1-avx2",
                                   "libnsync1-avx512")))
    build_program(root)
    (root.path / "tmp/debian").mkdir()
    (root.path / "tmp/debian/control").write_text("Source: rdep\n\nPackage: rdep\nArchitecture: any\n")
    out = root.run("sh", "-c", "cd /tmp && dpkg-shlibdeps -O prog").stdout
    depends = out.strip().removeprefix("shlibs:Depends=").split(", ")
    assert "libnsync1-generic (>= 1.29.2)" in depends, out
    assert not [dep for dep in depends if "avx" in dep], out


def test_generated_autopkgtest_passes(nsync_build):
    """debian/tests/hwcaps, upstream-tests and c-headers-link, run by autopkgtest in an unshare testbed on this
    CPU."""
    d = debs(nsync_build)
    proc = testbed.autopkgtest([d[p] for p in ("libnsync-dev", "libnsync1", "libnsync1-generic", "libnsync1-avx2",
                                               "libnsync1-avx512")], nsync_build["tree"], "bookworm", arch=ARCH)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    best = next((lvl for lvl in (V4, V3) if cpu_runs(lvl.name)), None)
    expected = f"glibc-hwcaps/{best.name}/libnsync.so.1" if best else f"{TRIPLET}/libnsync.so.1"
    assert re.search(rf"ok: GLIBC_TUNABLES='': libnsync\.so\.1: .*{expected}", proc.stdout), proc.stdout
    assert f"ok: GLIBC_TUNABLES='{mask(V3)}': libnsync.so.1: generic copy" in proc.stdout
    # upstream's tests against the installed packages, each level forced with GLIBC_TUNABLES (issue 21)
    assert re.search(r"^upstream-tests +PASS", proc.stdout, re.M), proc.stdout[-4000:]
    # every function nsync's C headers declare links against the installed libnsync
    assert re.search(r"^c-headers-link +PASS", proc.stdout, re.M), proc.stdout[-4000:]
    assert "13 headers compile as C, 0 do not" in proc.stdout and "ok: each of the 49 functions with C" in proc.stdout
    for level in [None] + [lvl for lvl in (V3, V4) if cpu_runs(lvl.name)]:
        name = level.name if level else "generic"
        assert f"debforge tests: {name} (installed): 26 passed, 0 failed" in proc.stdout, proc.stdout[-4000:]
        where = f"{TRIPLET}/glibc-hwcaps/{name}/" if level else f"{TRIPLET}/"
        assert re.search(rf"^  library libnsync\.so\.1 from \S*/{re.escape(where)}libnsync\.so\.1", proc.stdout, re.M)
