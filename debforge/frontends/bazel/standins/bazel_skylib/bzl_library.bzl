# @bazel_skylib//:bzl_library.bzl: .bzl file groups, recorded.
bzl_library = __df_rule("bzl_library")
StarlarkLibraryInfo = provider()
