"""Rule kinds: how the planner turns a rule that makes files (cmake_configure_file, genrule, proto_gen, ...) into
a build step with declared inputs and outputs, run by ninja before anything that includes or compiles them.

A kind is a function (target, ctx) -> Generate, registered in KINDS under the rule kind it handles, in one module
per family; `ctx` (the planner) resolves the target's label attributes to paths (tree files or outputs of other
steps) and tool labels to commands. Adding a kind is adding its function to a module and a line here."""

from __future__ import annotations

from typing import Callable

from ...graph import Target
from . import aten, genrule, protobuf, tblgen, templates
from .common import Context, Generate

KINDS: dict[str, Callable[[Target, Context], Generate]] = {
    protobuf.KIND: protobuf.proto_gen,
    protobuf.GRPC_KIND: protobuf.grpc_generate_cc,
    tblgen.KIND: tblgen.gentbl_cc_library,
    "cmake_configure_file": templates.cmake_configure_file,
    "generate_aten": aten.generate_aten,
    "genrule": genrule.genrule,
    "template_rule": templates.expand_template,
    "tf_gen_options_header": templates.tf_gen_options_header,
    "header_template_rule": templates.expand_template,
    "expand_template": templates.expand_template,
}
