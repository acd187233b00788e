#!/usr/bin/env python3
"""Memory-aware compile pools, measured: real compiles of a generated package under ninja -jJOBS, with the pools
debian/rules computes and without them (every depth JOBS: what ninja did before), side by side in one run.

The upstream tree is made here: HEAVY translation units whose g++ -O2 peak RSS is about 1 GiB (a big
std::string table: g++ 12 keeps the whole initializer in memory) and LIGHT ones of a few dozen MiB. Their peak
RSS is first measured one at a time (/usr/bin/time), rounded up and written into the recipe's
config.compile-memory, as a maintainer would; `debforge generate` writes the package, and debian/rules'
override_dh_auto_configure its config.ninja and pools.ninja. The builder is the one this runs on, except that
the pools are computed as if MemAvailable were --as-if-mib (a small builder; --as-if-mib 0: this machine's).

During each build a sampler reads every cc1plus of the tree in /proc every 50 ms: the peak of their summed RSS
is what the builder really had to hold at once.

    .venv/bin/python bench/pool_memory.py [--jobs 4] [--heavy 4] [--light 8] [--as-if-mib 2560]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from debforge.data import SKEL  # noqa: E402
from debforge.plan import pools  # noqa: E402

HEAVY_ENTRIES = 1500   # ~1 GiB, ~7 s with g++ 12 -O2 (2500: 2.9 GiB, 47 s; 6000: >11 GiB)
LIGHT_ENTRIES = 150


def table(name: str, entries: int) -> str:
    rows = "".join(f'  "{name} entry number {i} of the table",\n' for i in range(entries))
    return (f"#include <string>\n#include <vector>\nconst std::vector<std::string>& {name}() {{\n"
            f"  static const std::vector<std::string> v = {{\n{rows}  }};\n  return v;\n}}\n")


def peak_rss_mib(src: Path, workdir: Path) -> int:
    log = workdir / "time.log"
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(log), "g++", "-O2", "-fPIC", "-c", str(src),
                    "-o", str(workdir / "probe.o")], check=True)
    return int(log.read_text().split()[-1]) // 1024


def write_upstream(work: Path, heavy: int, light: int) -> tuple[Path, dict[str, int]]:
    tree = work / "upstream"
    (tree / "kernels").mkdir(parents=True)
    (tree / "WORKSPACE").write_text("")
    (tree / "BUILD.bazel").write_text('cc_library(name = "kernels", srcs = glob(["kernels/*.cc"]))\n')
    for i in range(heavy):
        (tree / f"kernels/heavy{i}.cc").write_text(table(f"heavy{i}", HEAVY_ENTRIES))
    for i in range(light):
        (tree / f"kernels/light{i}.cc").write_text(table(f"light{i}", LIGHT_ENTRIES))
    # the estimates, as a maintainer measures them: one compile of each kind alone, rounded up to 64 MiB
    measured = {"heavy": peak_rss_mib(tree / "kernels/heavy0.cc", work),
                "light": peak_rss_mib(tree / "kernels/light0.cc", work)}
    return tree, {k: -(-v // 64) * 64 for k, v in measured.items()}


def write_recipe(work: Path, tree: Path, estimate: dict[str, int]) -> Path:
    recipe = work / "kernels.yaml"
    recipe.write_text(f"""\
source: kernels
version: "1.0"
upstream: {{dir: {tree}}}
homepage: https://example.org/
maintainer: Bench <bench@example.org>
license: Apache-2.0
copyright: 2025 Bench
summary: pool bench
description: pool bench
frontend: bazel
architectures: [amd64]
isa-levels: []
packages:
  - name: libkernels1
    libraries:
      - {{name: kernels, target: "//:kernels", soversion: 1}}
dev:
  package: libkernels-dev
config:
  compile-memory:
    default: {estimate['light']}M
    "kernels/heavy*.cc": {estimate['heavy']}M
""")
    return recipe


class Sampler(threading.Thread):
    """Peak summed RSS (MiB) of the cc1plus processes working in `tree`, and peak number of heavy ones."""

    def __init__(self, tree: Path):
        super().__init__(daemon=True)
        self.tree, self.stop, self.peak_mib, self.peak_heavy = str(tree), threading.Event(), 0, 0

    def run(self):
        while not self.stop.wait(0.05):
            total, heavy = 0, 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if Path(f"/proc/{pid}/comm").read_text().strip() != "cc1plus" or \
                            os.readlink(f"/proc/{pid}/cwd") != self.tree:
                        continue
                    rss = int(re.search(r"^VmRSS:\s+([0-9]+)", Path(f"/proc/{pid}/status").read_text(), re.M)[1])
                    heavy += "heavy" in Path(f"/proc/{pid}/cmdline").read_text()
                except (OSError, TypeError):   # the process ended meanwhile
                    continue
                total += rss // 1024
            self.peak_mib, self.peak_heavy = max(self.peak_mib, total), max(self.peak_heavy, heavy)


def fake_root(work: Path, mib: int) -> Path:
    root = work / f"as-if-{mib}"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/meminfo").write_text(f"MemAvailable:   {mib * 1024} kB\n")
    (root / "proc/self/cgroup").write_text("")
    return root


def build(tree: Path, jobs: int, args: list[str], root: Path | None) -> dict:
    """Write pools.ninja (as if the builder had `root`'s memory; root None: every depth JOBS, as without pools),
    build from clean, measure."""
    out = tree / pools.POOLS_FILE
    if root is None:
        out.write_text("".join(f"pool {a.split('=')[0]}\n  depth = {jobs}\n" for a in args))
        line = ""
    else:
        line = subprocess.run(["perl", str(SKEL / "debforge/pools"), "--root", str(root), str(out), str(jobs),
                               *args], check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["rm", "-rf", "obj-debforge/generic", ".ninja_log", ".ninja_deps"], cwd=tree, check=True)
    sampler = Sampler(tree)
    sampler.start()
    start = time.monotonic()
    subprocess.run(["ninja", f"-j{jobs}", "-f", "debian/debforge/build-amd64.ninja", "generic"], cwd=tree,
                   check=True, capture_output=True)
    wall = time.monotonic() - start
    sampler.stop.set()
    sampler.join()
    return {"pools": line, "wall": wall, "peak_mib": sampler.peak_mib, "peak_heavy": sampler.peak_heavy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--heavy", type=int, default=4)
    ap.add_argument("--light", type=int, default=8)
    ap.add_argument("--as-if-mib", type=int, default=2560,
                    help="MemAvailable the pools are computed for (0: this machine's)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pool-bench-") as tmp:
        work = Path(tmp)
        upstream, estimate = write_upstream(work, a.heavy, a.light)
        print(f"estimates (peak RSS of one compile, rounded up): heavy {estimate['heavy']} MiB, "
              f"light {estimate['light']} MiB")
        recipe = write_recipe(work, upstream, estimate)
        subprocess.run([sys.executable, "-m", "debforge.cli", "generate", str(recipe), "-o", str(work / "out")],
                       cwd=ROOT, check=True, capture_output=True)
        tree = work / "out/kernels-1.0"
        subprocess.run(["make", "-f", "debian/rules", "override_dh_auto_configure"], cwd=tree, check=True,
                       capture_output=True, env={**os.environ, "DEB_BUILD_OPTIONS": f"parallel={a.jobs}"})
        args = pools.script_args({"default": estimate["light"], "kernels/heavy*.cc": estimate["heavy"]})
        memory = fake_root(work, a.as_if_mib) if a.as_if_mib else Path("/")
        runs = {"with pools": build(tree, a.jobs, args, memory),
                "without (depth = jobs)": build(tree, a.jobs, args, None)}
        print(runs["with pools"]["pools"])
        print(f"{a.heavy} heavy + {a.light} light TUs, ninja -j{a.jobs}, "
              f"pools computed as if MemAvailable were {a.as_if_mib or 'this machine'} MiB")
        print(f"{'run':<24} {'heavy at once':>13} {'peak RSS sum MiB':>17} {'wall s':>7}")
        for name, r in runs.items():
            print(f"{name:<24} {r['peak_heavy']:>13} {r['peak_mib']:>17} {r['wall']:>7.1f}")


if __name__ == "__main__":
    main()
