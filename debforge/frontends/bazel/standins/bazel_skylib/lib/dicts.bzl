# @bazel_skylib//lib:dicts.bzl
def _add(*dictionaries, **kwargs):
    result = {}
    for d in dictionaries:
        result.update(d)
    result.update(kwargs)
    return result

dicts = struct(add = _add)
