"""tools/compare-symbols against reference library files: several libraries taken together, --match globs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared_object(tmp: Path, name: str, functions: list[str]) -> Path:
    src = tmp / f"{name}.c"
    src.write_text("".join(f"int {f}(void) {{ return 0; }}\n" for f in functions))
    lib = tmp / f"{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", lib, src], check=True)
    return lib


def test_reference_libraries_together_and_only_matching_symbols(tmp_path):
    ours = [shared_object(tmp_path, "ours_c", ["TF_NewGraph", "TF_OursOnly", "helper"]),
            shared_object(tmp_path, "ours_fw", ["TFE_NewContext"])]
    refs = [shared_object(tmp_path, "ref_cc", ["TF_NewGraph", "TF_XlaOnly", "other_helper"]),
            shared_object(tmp_path, "ref_fw", ["TFE_NewContext"])]
    run = subprocess.run([sys.executable, ROOT / "tools/compare-symbols", *ours,
                          "--reference", refs[0], "--reference", refs[1], "--match", "TF_*", "--match", "TFE_*"],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr   # the reference exports TF_XlaOnly, ours does not
    out = run.stdout
    assert "ref_cc.so + ref_fw.so: 3 exported symbols matching TF_* TFE_*" in out
    assert "ours_c.so + ours_fw.so: 3 exported symbols" in out
    assert "common: 2" in out
    missing, only = out.split("missing from debforge's build")[1].split("only in debforge's build")
    assert "TF_XlaOnly" in missing and "TF_OursOnly" not in missing
    assert "TF_OursOnly" in only and "helper" not in out.replace("other_helper", "")


def test_a_deb_needs_the_library_name(tmp_path):
    run = subprocess.run([sys.executable, ROOT / "tools/compare-symbols", tmp_path / "x.deb",
                          "--reference", tmp_path / "y.so"], capture_output=True, text=True)
    assert run.returncode == 2 and "--library" in run.stderr
