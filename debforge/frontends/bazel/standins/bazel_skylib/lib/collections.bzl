# @bazel_skylib//lib:collections.bzl
def _uniq(iterable):
    out = []
    for x in iterable:
        if x not in out:
            out.append(x)
    return out

def _after_each(separator, iterable):
    out = []
    for x in iterable:
        out += [x, separator]
    return out

def _before_each(separator, iterable):
    out = []
    for x in iterable:
        out += [separator, x]
    return out

collections = struct(uniq = _uniq, after_each = _after_each, before_each = _before_each)
