"""Rules that fill in a template: CMake's configure_file (PyTorch), bazel's expand_template and the macros over
it, TensorFlow's options header. Each runs a script of debian/debforge/ (data/skel/debforge/), so the build log
shows what ran."""

from __future__ import annotations

import re

from ...core.errors import DebforgeError
from ...core.labels import absolute
from ...core.layout import SCRIPTS
from ...graph import Target, split_label
from .common import Context, Generate, declared_outputs, loc, one, output_path


def cmake_configure_file(t: Target, ctx: Context) -> Generate:
    """PyTorch's CMake configure_file stand-in: '#cmakedefine X' becomes '#define X' for the listed
    definitions and '/* #undef X */' for the rest."""
    src = ctx.inputs(t, [one(t, "src")])
    definitions = t.attrs.get("definitions", [])
    if not all(isinstance(d, str) and re.fullmatch(r"[A-Za-z_]\w*", d) for d in definitions):
        raise DebforgeError(f"cmake_configure_file '{t.label}': definitions must be identifiers", *loc(t))
    definitions = [d for d in definitions if d not in ctx.undefined]
    script = f"{SCRIPTS}/cmake-configure-file"
    out = output_path(one(t, "out"))
    return Generate(t.label, t.kind, src, [out], ["sh", script, src[0], out, *definitions], [script])


def expand_template(t: Target, ctx: Context) -> Generate:
    """bazel's ctx.actions.expand_template (template_rule, header_template_rule, skylib's expand_template):
    each key of `substitutions` is replaced literally by its value; a key @X@ for a macro X of a dropped external
    gets 0 (ATen's Config.h.in: @AT_MKL_ENABLED@ is 1 in BUILD.bazel, and there is no MKL)."""
    src = ctx.inputs(t, [one(t, "src" if "src" in t.attrs else "template")])
    subs = t.attrs.get("substitutions", {})
    if not isinstance(subs, dict) or not all(isinstance(v, str) for v in subs.values()):
        raise DebforgeError(f"{t.kind} '{t.label}': substitutions must map strings to strings", *loc(t))
    script = f"{SCRIPTS}/expand-template"
    out = output_path(one(t, "out"))
    pairs = [x for key, value in subs.items()   # the BUILD file's order
             for x in (key, "0" if key.strip("@") in ctx.undefined else value)]
    return Generate(t.label, t.kind, src, [out], ["perl", script, src[0], out, *pairs], [script])


def tf_gen_options_header(t: Target, ctx: Context) -> Generate:
    """TensorFlow's tf_gen_options_header: the template's '#define_option X' lines become 'TF_OPTION_X()' macros
    of the build settings' values (expand_template, as tensorflow.bzl does; without its '// <label>' line, as a
    build command holds no newline)."""
    _, pkg, _ = split_label(t.label)
    src = ctx.inputs(t, [absolute(one(t, "template"), "", pkg)])
    settings = t.attrs.get("build_settings", {})
    if not isinstance(settings, dict) or not all(isinstance(v, str) for v in settings.values()):
        raise DebforgeError(f"tf_gen_options_header '{t.label}': build_settings must map labels to names", *loc(t))
    pairs = []
    for label, name in settings.items():
        value = ctx.flag(label)   # a boolean's value is "true" or "false", however bazel spells it
        if value not in ("true", "false"):
            raise DebforgeError(f"tf_gen_options_header '{t.label}': build setting '{label}' is {value!r}, not "
                                f"a boolean", *loc(t))
        pairs += [f"#define_option {name}", f"#define TF_OPTION_{name}() {value}"]
    script = f"{SCRIPTS}/expand-template"
    out, = map(output_path, declared_outputs(t))
    return Generate(t.label, t.kind, src, [out], ["perl", script, src[0], out, *pairs], [script])
