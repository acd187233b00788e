# @bazel_skylib//lib:selects.bzl

def _with_or_dict(input_dict):
    # a tuple key means "any of these conditions": one entry per condition, with the same value
    out = {}
    for key, value in input_dict.items():
        for k in (key if type(key) == "tuple" else [key]):
            if k in out:
                fail("selects.with_or: condition %s is listed twice" % k)
            out[k] = value
    return out

def _with_or(input_dict, no_match_error = ""):
    return select(_with_or_dict(input_dict), no_match_error = no_match_error)

selects = struct(
    with_or = _with_or,
    with_or_dict = _with_or_dict,
    config_setting_group = __df_rule("config_setting_group"),
)
