"""tools/chroot-build, the sittings of a build too long for one sbuild run: `setup` makes a root with the tree's
Build-Depends (mmdebstrap) and configures the tree, `start`/`run` build ninja targets in it, `package` runs
dpkg-buildpackage -b -nc there (ninja builds only what the sittings left), moves the .debs out and runs the root's
lintian on them. On nsync: the library built by `run` first is not compiled again by `package`."""

import os
import subprocess

import pytest

from conftest import ROOT, cpu_runs, run_cli

TOOL = ROOT / "tools/chroot-build"


@pytest.mark.sbuild
@pytest.mark.skipif(os.getuid() != 0, reason="chroot and bind mounts need root")
def test_package_resumes_the_sittings_build_and_runs_lintian(tmp_path):
    gen = run_cli("generate", ROOT / "recipes/nsync.yaml", "-o", tmp_path / "gen")
    assert gen.returncode == 0, gen.stderr
    tree = tmp_path / "gen/nsync-1.29.2"
    subprocess.run([TOOL, "setup", tmp_path, tree, "trixie"], check=True, capture_output=True)
    try:
        run = subprocess.run([TOOL, "run", tmp_path, tree, "nsync@generic", "nsync_cpp@generic"], capture_output=True,
                             text=True)
        log = tmp_path / "build.log"   # none when the tool refused to start (another ninja runs on the machine)
        assert run.returncode == 0, run.stderr + (log.read_text()[-3000:] if log.exists() else "")
        package = subprocess.run([TOOL, "package", tmp_path, tree], capture_output=True, text=True)
        log = (tmp_path / "build.log").read_text()
        assert package.returncode == 0, package.stderr + log[-3000:]
        assert "lintian (the root's): exit 0, 0 errors, 0 warnings" in package.stdout
        debs = sorted(p.name.split("_")[0] for p in (tmp_path / "debs").glob("*.deb") if "dbgsym" not in p.name)
        assert debs == ["libnsync-dev", "libnsync1", "libnsync1-avx2", "libnsync1-avx512", "libnsync1-generic",
                        "nsync-src"]
        sitting = log.rsplit("\n=== ", 1)[1]   # dpkg-buildpackage's part: the generic objects were there
        assert "-o obj-debforge/generic/obj/" not in sitting and "-o obj-debforge/x86-64-v3/obj/" in sitting
        for level in ("generic", "x86-64-v3", "x86-64-v4"):   # upstream's tests, at each level this CPU runs
            assert (f"debforge tests: {level} (build): 26 passed, 0 failed" if cpu_runs(level) else
                    f"debforge tests: {level}: SKIPPED: this CPU does not support {level}") in sitting
    finally:
        root = tmp_path / "root"
        for mount in (root / str(tree).lstrip("/"), root / "proc"):
            subprocess.run(["umount", mount], capture_output=True)
