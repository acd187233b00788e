# @pybind11_bazel//:build_defs.bzl: Python extension modules are recorded as their own rule kind.
pybind_extension = __df_rule("pybind_extension")
pybind_library = __df_rule("pybind_library")
