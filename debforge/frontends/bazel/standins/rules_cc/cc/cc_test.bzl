# @rules_cc//cc:cc_test.bzl (rules_cc 0.1 and later, which abseil 2026 loads): bazel's native rule, which the prelude
# already defines.
cc_test = cc_test
