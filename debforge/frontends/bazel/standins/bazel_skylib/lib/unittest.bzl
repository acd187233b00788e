# @bazel_skylib//lib:unittest.bzl: analysis and unit tests are recorded as test rules; they never run here.
def _make(impl, attrs = {}):
    return __df_rule("skylib_unittest")

def _suite(name, *test_rules):
    native.test_suite(name = name, tests = [])

def _noop(*args, **kwargs):
    return None

unittest = struct(make = _make, suite = _suite, begin = _noop, end = _noop, fail = _noop)
analysistest = struct(make = _make, begin = _noop, end = _noop, fail = _noop, target_under_test = _noop)
asserts = struct(equals = _noop, false = _noop, true = _noop, set_equals = _noop, new_set_equals = _noop,
                 expect_failure = _noop)
loadingtest = struct(make = _noop, equals = _noop)
