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


def test_normalize_compares_demangled_names_without_an_inline_namespace(tmp_path):
    """A library built against another abseil release differs only in absl's inline namespace: with it removed,
    the functions taking abseil types compare equal."""
    def cxx(name, ns, functions):
        src = tmp_path / f"{name}.cc"
        src.write_text(f"namespace absl {{ inline namespace {ns} {{ struct Status {{}}; }} }}\n"
                       "namespace tf {\n" + "".join(f"void {f}(absl::Status) {{}}\n" for f in functions) + "}\n")
        subprocess.run(["g++", "-shared", "-fPIC", "-o", tmp_path / f"{name}.so", src], check=True)
        return tmp_path / f"{name}.so"
    ours = cxx("ours", "debian10", ["Run", "OursOnly"])
    ref = cxx("ref", "lts_20230125", ["Run", "Gone"])
    args = [sys.executable, ROOT / "tools/compare-symbols", ours, "--reference", ref, "--match", "tf::*"]
    raw = subprocess.run(args, capture_output=True, text=True)
    assert "common: 0" in raw.stdout   # the mangled names differ in the namespace
    norm = subprocess.run([*args, "--normalize", "lts_[0-9]+::|debian[0-9]+::"], capture_output=True, text=True)
    assert norm.returncode == 1 and "common: 1" in norm.stdout, norm.stdout + norm.stderr
    missing, only = norm.stdout.split("missing from debforge's build")[1].split("only in debforge's build")
    assert "tf::Gone(absl::Status)" in missing and "tf::OursOnly(absl::Status)" in only


def test_strong_leaves_out_what_the_reference_defines_weak(tmp_path):
    """A weak symbol (an inline function's or a template's out-of-line copy) is the compiler's choice: with --strong
    only the strong one the reference defines is missing."""
    src = tmp_path / "ref.c"
    src.write_text("int TF_Strong(void) { return 0; }\n__attribute__((weak)) int TF_Inline(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "ref.so", src], check=True)
    ours = shared_object(tmp_path, "ours", ["TF_Other"])
    run = subprocess.run([sys.executable, ROOT / "tools/compare-symbols", ours, "--reference", tmp_path / "ref.so",
                          "--strong"], capture_output=True, text=True)
    missing, only = run.stdout.split("missing from debforge's build")[1].split("only in debforge's build")
    assert run.returncode == 1 and "TF_Strong" in missing and "TF_Inline" not in missing, run.stdout + run.stderr
    assert "TF_Other" in only
