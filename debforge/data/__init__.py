"""Package data, read through importlib.resources so that an installed debforge finds it wherever it lives:
templates/ (Jinja templates of debian/ files) and skel/ (files copied as they are into every generated debian/:
the helper scripts that debian/rules and the ninja graph run, each through its interpreter)."""

from importlib.resources import files

SKEL = files(__name__) / "skel"


def skeleton() -> dict[str, str]:
    """Every file of skel/ by its path under debian/, with its text."""
    out: dict[str, str] = {}

    def walk(node, rel: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{rel}{child.name}/")
            else:
                out[f"{rel}{child.name}"] = child.read_text(encoding="utf-8")
    walk(SKEL, "")
    return dict(sorted(out.items()))
