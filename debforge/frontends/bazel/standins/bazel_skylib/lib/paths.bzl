# @bazel_skylib//lib:paths.bzl
def _basename(p):
    return p.rpartition("/")[-1]

def _dirname(p):
    prefix, sep, _ = p.rpartition("/")
    if not prefix:
        return sep
    return prefix.rstrip("/")

def _is_absolute(path):
    return path.startswith("/")

def _join(path, *others):
    result = path
    for p in others:
        if _is_absolute(p):
            result = p
        elif not result or result.endswith("/"):
            result += p
        else:
            result += "/" + p
    return result

def _normalize(path):
    if not path:
        return "."
    abs = path.startswith("/")
    out = []
    for c in path.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not abs:
                out.append(c)
        else:
            out.append(c)
    joined = "/".join(out)
    if abs:
        return "/" + joined
    return joined or "."

def _relativize(path, start):
    segments = _normalize(path).split("/")
    start_segments = _normalize(start).split("/")
    if start_segments == ["."]:
        start_segments = []
    if segments[:len(start_segments)] != start_segments:
        fail("Path '%s' is not beneath '%s'" % (path, start))
    return "/".join(segments[len(start_segments):])

def _split_extension(p):
    b = _basename(p)
    last_dot = b.rfind(".")
    if last_dot <= 0:
        return (p, "")
    dot_distance_from_end = len(b) - last_dot
    return (p[:-dot_distance_from_end], p[-dot_distance_from_end:])

def _replace_extension(p, new_extension):
    return _split_extension(p)[0] + new_extension

paths = struct(
    basename = _basename,
    dirname = _dirname,
    is_absolute = _is_absolute,
    join = _join,
    normalize = _normalize,
    relativize = _relativize,
    replace_extension = _replace_extension,
    split_extension = _split_extension,
)
