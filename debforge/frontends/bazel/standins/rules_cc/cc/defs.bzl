# @rules_cc//cc:defs.bzl: rules_cc's rules are bazel's native C++ rules, which the prelude already defines.
cc_library = cc_library
cc_binary = cc_binary
cc_test = cc_test
cc_import = cc_import
cc_shared_library = cc_shared_library
cc_proto_library = cc_proto_library
cc_toolchain = cc_toolchain
cc_toolchain_suite = cc_toolchain_suite
