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


def generate_aten(t: Target, ctx: Context) -> Generate:
    """PyTorch's generate_aten (aten.bzl): torchgen writes ATen's generated sources and one header set per operator
    under aten/src/ATen. Its outputs are what torchgen says it writes (a dry run at planning time): the BUILD
    file's `outs` are a hand-kept subset, and each must be among them."""
    tool = ctx.tool(t, one(t, "generator"))
    srcs = ctx.inputs(t, t.attrs.get("srcs", []))
    install_dir = f"{GENDIR}/aten/src/ATen"   # aten.bzl: the parent of the declared aten/src/ATen/ops directory
    args = ["--source-path", "aten/src/ATen", "--per-operator-headers", "--install_dir", install_dir]
    outputs = _torchgen_outputs(t, ctx.root, tool, args, install_dir)
    missing = [o for o in map(output_path, declared_outputs(t)) if o not in outputs]
    if missing:
        raise DebforgeError(f"generate_aten '{t.label}' declares {len(missing)} file(s) that torchgen does not "
                            f"write: {', '.join(missing[:5])}", *loc(t))
    return Generate(t.label, t.kind, srcs + tool.files, outputs, tool.command + args,
                    build_depends=tool.build_depends)


def _torchgen_outputs(t: Target, root: str, tool: Tool, args: list[str], install_dir: str) -> list[str]:
    """The files torchgen writes, from its --dry-run --output-dependencies lists (one CMake list per writer), run
    into a scratch directory; the *Everything.cpp files it leaves out of those lists are not compiled by anyone."""
    with tempfile.TemporaryDirectory(prefix="debforge-torchgen-") as tmp:
        scratch = os.path.join(tmp, install_dir)
        host = [sys.executable if tool.command[0] == "python3" else tool.command[0], *tool.command[1:]]
        argv = [*host, *args[:-1], scratch, "--dry-run",
                "--output-dependencies", os.path.join(tmp, "outputs.cmake")]
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DebforgeError(f"generate_aten '{t.label}': torchgen's dry run failed: "
                                f"{proc.stderr.strip()[-500:]}", *loc(t))
        listed = [m for f in sorted(os.listdir(tmp)) if f.endswith("outputs.cmake")
                  for m in re.findall(r'"([^"]+)"', open(os.path.join(tmp, f)).read())]
        return sorted({os.path.normpath(os.path.join(install_dir, os.path.relpath(m, scratch))) for m in listed})
