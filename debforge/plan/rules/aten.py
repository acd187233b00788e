"""PyTorch's generate_aten: torchgen writes ATen's generated sources, and says which."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from ...core.errors import DebforgeError
from ...core.layout import BUILDDIR, GENDIR, SCRIPTS
from ...graph import Target, split_label
from .common import Context, Generate, Tool, declared_outputs, loc, one, output_path


def args(root: str) -> list[str]:
    """torchgen's arguments, writing under `root` (the generated-files directory): what generate_aten runs
    (aten.bzl), ATen's files under the parent of the declared aten/src/ATen/ops directory; and the AOTInductor C
    shim (c_shim_cpu.cpp, which CMake compiles into libtorch_cpu), which torchgen writes into the source tree
    unless told (aten.bzl does not tell: bazel's sandbox drops it), where bazel would put it."""
    return ["--source-path", "aten/src/ATen", "--per-operator-headers", "--install_dir", f"{root}/aten/src/ATen",
            "--aoti-install-dir", f"{root}/torch/csrc/inductor/aoti_torch/generated"]


# runs torchgen into a scratch directory and compares what it wrote with the step's outputs (ninja lists them)
CHECK_SCRIPT = f"{SCRIPTS}/check-outputs"


def generate_aten(t: Target, ctx: Context) -> Generate:
    """PyTorch's generate_aten (aten.bzl): torchgen writes ATen's generated sources and one header set per operator
    under aten/src/ATen, and the AOTInductor C shim. Which files is torchgen's to say at run time: the BUILD
    file's `outs` are a hand-kept subset. Planning runs no upstream code, so the list is recipe data
    (`rule-outputs`, made by tools/rule-outputs, which runs torchgen), and each declared output must be in it.
    The step runs torchgen through CHECK_SCRIPT: a build whose torchgen writes other files than the list fails
    there, naming them."""
    recorded = ctx.recorded_outputs(t.label)
    if recorded is None:
        raise DebforgeError(f"generate_aten '{t.label}': which files torchgen writes is recipe data", *loc(t),
                            hint=f"record them: tools/rule-outputs RECIPE TREE {t.label} > FILE, and name FILE under "
                                 f"the recipe's rule-outputs")
    tool = ctx.tool(t, one(t, "generator"))
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    outputs = sorted({os.path.normpath(os.path.join(GENDIR, rel)) for rel in recorded})
    missing = [o for o in map(output_path, declared_outputs(t)) if o not in outputs]
    if missing:
        raise DebforgeError(f"generate_aten '{t.label}' declares {len(missing)} file(s) that torchgen does not "
                            f"write (by the recipe's rule-outputs): {', '.join(missing[:5])}", *loc(t),
                            hint="record the list anew with tools/rule-outputs")
    _, pkg, name = split_label(t.label)
    declared = f"{BUILDDIR}/{'_'.join(filter(None, [*pkg.split('/'), name]))}.declared-outputs"
    return Generate(t.label, t.kind, srcs + tool.files, outputs,
                    ["sh", CHECK_SCRIPT, t.label, GENDIR, declared, "--", *tool.command, *args(GENDIR)],
                    tools=[CHECK_SCRIPT], build_depends=tool.build_depends, outputs_list=declared)


def torchgen_outputs(root: str, tool: Tool) -> list[str]:
    """The files torchgen writes, relative to the generated-files directory: it runs as the build runs it, into a
    scratch directory
    (its --dry-run lists leave out the *Everything.cpp files that a real run writes too, and the build checks
    every file it writes). This runs upstream's code: tools/rule-outputs, never the planner, calls it."""
    with tempfile.TemporaryDirectory(prefix="debforge-torchgen-") as tmp:
        scratch = os.path.join(tmp, GENDIR)
        host = [sys.executable if tool.command[0] == "python3" else tool.command[0], *tool.command[1:]]
        proc = subprocess.run([*host, *args(scratch)], cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DebforgeError(f"torchgen failed: {proc.stderr.strip()[-500:]}")
        return sorted(os.path.relpath(os.path.join(d, f), scratch) for d, _, files in os.walk(scratch) for f in files)
