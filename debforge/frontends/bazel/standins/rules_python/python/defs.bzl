# @rules_python//python:defs.bzl: the native Python rules of the prelude.
py_binary = py_binary
py_library = py_library
py_test = py_test
