# @com_github_grpc_grpc//bazel:cc_grpc_library.bzl: gRPC's macro, in its grpc_only form (what TensorFlow uses):
# a generate_cc rule running grpc_cpp_plugin over a proto_library (debforge/protos.py plans it with Debian's
# protoc and plugin) and a cc_library of what it writes. The other form also makes the proto_library and
# cc_proto_library itself; no upstream debforge builds uses it.
load("//bazel:generate_cc.bzl", "generate_cc")

def cc_grpc_library(name, srcs, deps, proto_only = False, well_known_protos = False, generate_mocks = False,
                    use_external = False, grpc_only = False, **kwargs):
    if not grpc_only or proto_only:
        fail("debforge's stand-in for cc_grpc_library takes grpc_only = True only (a proto_library in srcs, its " +
             "cc_proto_library in deps)")
    if len(srcs) != 1:
        fail("Only one srcs value supported", "srcs")
    codegen = "_" + name + "_grpc_codegen"
    generate_cc(
        name = codegen,
        srcs = srcs,
        plugin = "@com_github_grpc_grpc//src/compiler:grpc_cpp_plugin",
        well_known_protos = well_known_protos,
        generate_mocks = generate_mocks,
        **kwargs
    )
    native.cc_library(
        name = name,
        srcs = [":" + codegen],
        hdrs = [":" + codegen],
        deps = deps + ["@com_github_grpc_grpc//:grpc++_codegen_proto"],
        **kwargs
    )
