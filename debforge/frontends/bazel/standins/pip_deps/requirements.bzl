# @pip_deps//:requirements.bzl (rules_python's pip_parse): a label per PyPI requirement, mapped by the recipe's
# externals like any other repository.
def requirement(name):
    return "@pip_deps//:" + name.replace("-", "_").lower()
