"""TF Lite workloads for bench/selective_levels.py: one model per op, written as JSON against the tree's own
schema.fbs and compiled by flatc, run by a small C++ program (bench/tflite_run.cc) through each copy of
libtensorflowlite, one thread, rounds interleaved so that drift in the machine's speed hits every copy alike.

The ops: the elementwise and reduction kernels TF Lite's own code computes (tanh, logistic, exp, softmax, add,
mul, mean, depthwise conv: vectorised by the compiler, so a level copy can change them), and the GEMM-based ones
(conv, fully connected), whose inner loops run in ruy, outside the library (Debian's libruy picks its kernels at
run time)."""

import json
import statistics
import struct
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "tflite_run.cc"
FLOAT = "FLOAT32"


def floats(n: int, seed: int) -> list[int]:
    """n deterministic floats in [-0.5, 0.5) as the little-endian bytes a Buffer holds."""
    vals = [((i * 2654435761 + seed) % 1000) / 1000 - 0.5 for i in range(n)]
    return list(struct.pack(f"<{n}f", *vals))


def model(op: str, inputs: list[list[int]], output: list[int], consts: list[tuple[list[int], str, list[int]]] = (),
          options: tuple[str, dict] | None = None) -> dict:
    """A one-op model: activation inputs (shapes), constant inputs (shape, type, bytes), one output."""
    tensors = [{"shape": s, "type": FLOAT, "buffer": 0, "name": f"in{i}"} for i, s in enumerate(inputs)]
    buffers = [{}]
    for shape, typ, data in consts:
        buffers.append({"data": data})
        tensors.append({"shape": shape, "type": typ, "buffer": len(buffers) - 1, "name": f"c{len(buffers)}"})
    tensors.append({"shape": output, "type": FLOAT, "buffer": 0, "name": "out"})
    operator = {"opcode_index": 0, "inputs": list(range(len(tensors) - 1)), "outputs": [len(tensors) - 1]}
    if options:
        operator["builtin_options_type"], operator["builtin_options"] = options
    return {"version": 3, "operator_codes": [{"builtin_code": op}], "buffers": buffers,
            "subgraphs": [{"tensors": tensors, "inputs": list(range(len(inputs))), "outputs": [len(tensors) - 1],
                           "operators": [operator]}]}


def models() -> dict[str, dict]:
    n = [1, 1 << 20]
    return {
        "tanh": model("TANH", [n], n),
        "logistic": model("LOGISTIC", [n], n),
        "exp": model("EXP", [n], n),
        "softmax": model("SOFTMAX", [[256, 4096]], [256, 4096], options=("SoftmaxOptions", {"beta": 1.0})),
        "add": model("ADD", [n, n], n, options=("AddOptions", {})),
        "mul": model("MUL", [n, n], n, options=("MulOptions", {})),
        "mean": model("MEAN", [[1, 256, 256, 16]], [1, 16], [([2], "INT32", list(struct.pack("<2i", 1, 2)))],
                      ("ReducerOptions", {"keep_dims": False})),
        "depthwise_conv": model("DEPTHWISE_CONV_2D", [[1, 112, 112, 32]], [1, 112, 112, 32],
                                [([1, 3, 3, 32], FLOAT, floats(288, 1)), ([32], FLOAT, floats(32, 2))],
                                ("DepthwiseConv2DOptions", {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                            "depth_multiplier": 1, "fused_activation_function": "RELU6"})),
        "conv": model("CONV_2D", [[1, 56, 56, 32]], [1, 56, 56, 32],
                      [([32, 3, 3, 32], FLOAT, floats(9216, 3)), ([32], FLOAT, floats(32, 4))],
                      ("Conv2DOptions", {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                         "fused_activation_function": "RELU"})),
        "fully_connected": model("FULLY_CONNECTED", [[64, 256]], [64, 256],
                                 [([256, 256], FLOAT, floats(65536, 5)), ([256], FLOAT, floats(256, 6))],
                                 ("FullyConnectedOptions", {})),
    }


def prepare(ch, tree: Path, work: Path) -> tuple[Path, list[Path]]:
    """The runner (linked against the generic copy) and the .tflite files, made inside the root."""
    mdir = work / "models"
    mdir.mkdir(exist_ok=True)
    for name, m in models().items():
        (mdir / f"{name}.json").write_text(json.dumps(m))
    schema = ch.inside(tree / "tensorflow/lite/schema/schema.fbs")
    ch.run("flatc", "--binary", "-o", ch.inside(mdir), schema, *(ch.inside(p) for p in sorted(mdir.glob("*.json"))),
           check=True)
    (work / "tflite_run.cc").write_text(RUNNER.read_text())
    lib = next((tree / "obj-debforge/generic").glob("libtensorflowlite.so.*"))
    ch.run("g++", "-O2", "-std=c++17", "-I", ch.inside(tree), "-o", ch.inside(work / "tflite_run"),
           ch.inside(work / "tflite_run.cc"), ch.inside(lib), check=True)
    return work / "tflite_run", sorted(mdir.glob("*.tflite"))


def run_copy(ch, runner: Path, copy: Path, tflites: list[Path], iters: int) -> dict[str, tuple[float, float]]:
    """op -> (best ms of ITERS invokes, output checksum), through COPY (its directory first on the search path)."""
    proc = ch.run("env", f"LD_LIBRARY_PATH={ch.inside(copy.parent)}", ch.inside(runner), str(iters),
                  *(ch.inside(t) for t in tflites), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{runner.name} through {copy.parent.name} failed:\n{proc.stderr[-3000:]}")
    loaded = proc.stderr.strip().splitlines()[-1]
    if loaded != f"loaded {ch.inside(copy)}":
        raise SystemExit(f"{copy.parent.name}: the runner loaded another copy: {loaded}")
    out = {}
    for line in proc.stdout.splitlines():
        name, ms, checksum = line.split()
        out[Path(name).stem] = (float(ms), float(checksum))
    return out


def compare(ch, tree: Path, work: Path, copies: dict[str, Path], rounds: int, iters: int = 10) -> None:
    """Print per op each copy's median time over ROUNDS and its speed against the generic copy and, for a
    selective copy, against the full copy of its level; and each copy's largest checksum difference."""
    runner, tflites = prepare(ch, tree, work)
    times: dict[str, dict[str, list[float]]] = {c: {} for c in copies}
    sums: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for name, copy in copies.items():
            for op, (ms, checksum) in run_copy(ch, runner, copy, tflites, iters).items():
                times[name].setdefault(op, []).append(ms)
                sums.setdefault(name, {})[op] = checksum
    med = {c: {op: statistics.median(v) for op, v in ops.items()} for c, ops in times.items()}
    generic = next(c for c in copies if c.endswith("generic"))
    full = [c for c in copies if c.startswith("full-") and c != generic]
    sel_tags = sorted({c.split("-", 1)[0] for c in copies if not c.startswith("full-")}, key=lambda t: (len(t), t))
    levels = [c.split("-", 1)[1] for c in full]
    print(f"\n== TF Lite ops, one thread: median of {rounds} interleaved rounds (best of {iters} invokes); "
          f"{generic} in ms, the full copies' speed-up against it, each selective copy's speed against the full "
          f"copy of its level ({' / '.join(levels)})")
    print(f"   {'op':16}{'generic ms':>11}" + "".join(f"{'full ' + lvl:>16}" for lvl in levels)
          + "".join(f"{tag:>16}" for tag in sel_tags))
    for op in sorted(med[generic]):
        row = f"   {op:16}{med[generic][op]:11.3f}" + "".join(f"{'x%.2f' % (med[generic][op] / med[c][op]):>16}"
                                                          for c in full)
        for tag in sel_tags:
            row += f"{' / '.join('%.2f' % (med['full-' + lvl][op] / med[f'{tag}-{lvl}'][op]) for lvl in levels):>16}"
        print(row)
    names = list(copies)
    for c in names:
        worst = max(abs(sums[c][op] - sums[generic][op]) / max(1e-30, abs(sums[generic][op])) for op in sums[c])
        print(f"   {c}: largest relative checksum difference from {generic}: {worst:.2e}")
