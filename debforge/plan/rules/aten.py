"""PyTorch's generate_aten: torchgen writes ATen's generated sources, and says which."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

from ...core.errors import DebforgeError
from ...core.layout import GENDIR
from ...graph import Target
from .common import Context, Generate, Tool, declared_outputs, loc, one, output_path

# what generate_aten runs (aten.bzl): torchgen writes under the parent of the declared aten/src/ATen/ops directory
INSTALL_DIR = f"{GENDIR}/aten/src/ATen"
ARGS = ["--source-path", "aten/src/ATen", "--per-operator-headers", "--install_dir", INSTALL_DIR]


def generate_aten(t: Target, ctx: Context) -> Generate:
    """PyTorch's generate_aten (aten.bzl): torchgen writes ATen's generated sources and one header set per operator
    under aten/src/ATen. Which files is torchgen's to say at run time: the BUILD file's `outs` are a hand-kept
    subset. Planning runs no upstream code, so the list is recipe data (`rule-outputs`, made by
    tools/rule-outputs, which runs torchgen's dry run), and each declared output must be in it."""
    recorded = ctx.recorded_outputs(t.label)
    if recorded is None:
        raise DebforgeError(f"generate_aten '{t.label}': which files torchgen writes is recipe data", *loc(t),
                            hint=f"record them: tools/rule-outputs RECIPE TREE {t.label} > FILE, and name FILE under "
                                 f"the recipe's rule-outputs")
    tool = ctx.tool(t, one(t, "generator"))
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    outputs = sorted({os.path.normpath(os.path.join(INSTALL_DIR, rel)) for rel in recorded})
    missing = [o for o in map(output_path, declared_outputs(t)) if o not in outputs]
    if missing:
        raise DebforgeError(f"generate_aten '{t.label}' declares {len(missing)} file(s) that torchgen does not "
                            f"write (by the recipe's rule-outputs): {', '.join(missing[:5])}", *loc(t),
                            hint="record the list anew with tools/rule-outputs")
    return Generate(t.label, t.kind, srcs + tool.files, outputs, tool.command + ARGS,
                    build_depends=tool.build_depends)


def torchgen_outputs(root: str, tool: Tool) -> list[str]:
    """The files torchgen writes, relative to INSTALL_DIR, from its --dry-run --output-dependencies lists (one CMake
    list per writer), run into a scratch directory; the *Everything.cpp files it leaves out of those lists are not
    compiled by anyone. This runs upstream's code: tools/rule-outputs, never the planner, calls it."""
    with tempfile.TemporaryDirectory(prefix="debforge-torchgen-") as tmp:
        scratch = os.path.join(tmp, INSTALL_DIR)
        host = [sys.executable if tool.command[0] == "python3" else tool.command[0], *tool.command[1:]]
        argv = [*host, *ARGS[:-1], scratch, "--dry-run", "--output-dependencies", os.path.join(tmp, "outputs.cmake")]
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DebforgeError(f"torchgen's dry run failed: {proc.stderr.strip()[-500:]}")
        listed = [m for f in sorted(os.listdir(tmp)) if f.endswith("outputs.cmake")
                  for m in re.findall(r'"([^"]+)"', open(os.path.join(tmp, f)).read())]
        return sorted({os.path.normpath(os.path.relpath(m, scratch)) for m in listed})
