"""`debforge update`: move a recipe to a new upstream release. Find the release (Debian's archive for `upstream:
debian`, the tarball given), rewrite the recipe's version keeping its layout (recipe/edit.py), refresh the patches
against the new tree with quilt, regenerate (keeping the maintainer's edits, and adding the changelog entry) and
diff the old and the new plans (graphdiff.py).

Nothing is written until the new release has been fetched, checked and patched in a scratch tree; if regenerating
fails, the recipe and its patches are put back as they were."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import yaml
from debian.debian_support import Version

from . import graphdiff, pipeline, upstream
from .core.errors import DebforgeError
from .drivers import archive
from .recipe import edit
from .recipe.model import Recipe

QUILT = ["quilt", "--quiltrc=-"]
QUILT_REFRESH = ["refresh", "--no-timestamps", "--no-index", "-p", "ab"]   # dpkg-source's usual patch form


@dataclass
class Release:
    """What the recipe moves to."""
    version: str
    suite: str | None = None      # a new upstream.suite
    tarball: str | None = None    # a new upstream.tarball, relative to the recipe
    abi: str | None = None        # "bump" or "keep": what package names and soversions holding the version do


@dataclass
class Refreshed:
    texts: dict[Path, str] = field(default_factory=dict)   # patches quilt refreshed (they applied with fuzz)
    dropped: list[Path] = field(default_factory=list)      # patches the new release already contains
    notes: list[str] = field(default_factory=list)


def choose(recipe: Recipe, version: str | None, suite: str | None, tarball: str | None, output: Path,
           log) -> Release:
    """The release to move to: the suite's newest (or `version`, which must exist) for a Debian upstream; for a
    tarball upstream the tarball given (its version from --version or its name), else what uscan finds with the
    debian/watch of the packaged release in output."""
    up = recipe.upstream
    if up.debian:
        if tarball:
            raise recipe.error("upstream", "--tarball is for recipes with upstream: {tarball: ...}; this one's "
                               "releases come from Debian's archive", hint="use --version or --suite")
        suite_now = suite or up.suite
        releases = upstream.debian_releases(up.debian, suite_now, log)
        if not releases:
            raise recipe.error("upstream", f"{suite_now} has no source package {up.debian}")
        if version is not None and version not in releases:
            raise recipe.error("version", f"{up.debian} {version} is not in {suite_now}; it has: {', '.join(releases)}",
                               hint="pick one of these with --version, or another suite with --suite")
        newest = max(releases, key=Version)
        return Release(version or newest, suite if suite and suite != up.suite else None)
    if suite:
        raise recipe.error("upstream", "--suite is for recipes with upstream: {debian: ...}")
    if not up.tarball:
        raise recipe.error("upstream", "an upstream directory has no releases: point upstream.dir at the new tree, "
                           "set version, and run debforge generate")
    if not tarball:
        version, url = _uscan(recipe, output / f"{recipe.source}-{recipe.version}/debian/watch", version)
        if version == recipe.version:
            return Release(version)
        ext = next((e for e in upstream.ORIG_EXT if urllib.parse.urlparse(url).path.endswith(e)), ".tar.gz")
        tarball = str(_download(url, recipe.path.parent / f"{recipe.source}-{version}{ext}", log))
    path = Path(tarball).resolve()
    if not path.is_file():
        raise DebforgeError(f"--tarball {tarball} does not exist")
    version = version or _tarball_version(path, recipe.source)
    return Release(version, tarball=os.path.relpath(path, recipe.path.parent.resolve()))


def _uscan(recipe: Recipe, watch: Path, version: str | None) -> tuple[str, str]:
    """(version, URL) of the release uscan finds with the watch file: the newest, or `version`. uscan only reports
    (its download would run the watch file's uupdate action): _download fetches the URL."""
    if not watch.is_file():
        raise recipe.error("upstream", f"no {watch} to find the new release with",
                           hint="generate the packaged release first (its debian/watch comes from a GitHub homepage, "
                                "or write your own), or give the new tarball with --tarball")
    cmd = ["uscan", "--dehs", "--report", "--verbose", "--watchfile", str(watch), "--package", recipe.source,
           "--upstream-version", recipe.version, *(["--download-version", version] if version else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dehs = ElementTree.fromstring(proc.stdout[proc.stdout.find("<dehs>"):]) if "<dehs>" in proc.stdout else None
    url = dehs.findtext("upstream-url") if dehs is not None else None
    if not url:
        found = sorted(set(re.findall(r"^\s+\S+ \((\S+)\) index=", proc.stdout + proc.stderr, re.M)), key=Version)
        said = f"; it found: {', '.join(found)}" if found else f":\n{(proc.stderr or proc.stdout)[-1500:]}"
        raise recipe.error("version" if version else "upstream",
                           f"uscan found no release{f' {version}' if version else ''} with {watch}{said}")
    return dehs.findtext("upstream-version"), url


def _download(url: str, dest: Path, log) -> Path:
    """The file at url, downloaded once to dest (under a temporary name until it is complete)."""
    if not dest.is_file():
        log(f"debforge: downloading {url}")
        part = dest.with_name(f".{dest.name}.part")
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(part, "wb") as fh:
                shutil.copyfileobj(resp, fh)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise DebforgeError(f"cannot download {url}: {exc}") from None
        part.rename(dest)
    return dest


def _tarball_version(path: Path, source: str) -> str:
    """The version in a release tarball's name, as uscan reads it: NAME-1.2.tar.gz, NAME_1.2.orig.tar.xz,
    v1.2.tar.gz."""
    m = re.fullmatch(rf"(?:{re.escape(source)}[-_]|v)?(\d[\w.+~]*?)(?:\.orig)?\.tar\.(?:gz|xz|bz2)", path.name)
    if not m:
        raise DebforgeError(f"cannot tell the version from the name {path.name}", hint="give it with --version")
    return m.group(1)


def rewrite(recipe: Recipe, release: Release, dropped: list[Path]) -> str:
    """The recipe's text moved to the release: version, suite or tarball, the Debian revision back to 1, dropped
    patches out of its list; every other byte as it was."""
    file = str(recipe.path)
    text = edit.set_value(recipe.path.read_text(), ("version",), release.version, file)
    if release.suite:
        text = edit.set_value(text, ("upstream", "suite"), release.suite, file)
    if release.tarball:
        text = edit.set_value(text, ("upstream", "tarball"), release.tarball, file)
    if "debian-revision" in recipe.lines and recipe.debian_revision != "1":
        text = edit.set_value(text, ("debian-revision",), "1", file)
    edits, renames = _abi_edits(recipe, text, release)
    for path, value in edits:
        text = edit.set_value(text, path, value, file)
    for path, key in renames:
        text = edit.rename_key(text, path, key, file)
    if dropped:
        rel = {str(p.relative_to(recipe.path.parent)) for p in dropped}
        text = edit.drop_items(text, ("patches",), rel, file)
    return text


Edits = list[tuple[tuple, str]]   # (path in the recipe, new value or key)


def _abi_edits(recipe: Recipe, text: str, release: Release) -> tuple[Edits, Edits]:
    """(values, keys to rename) of the packages that follow the version: a library's `version` holding the old
    release (1.2.0 of a release 1.2), and with --bump-abi the package names and soversions holding its first
    component (libabsl20240722, soversion 20240722), the library versions that start with those (20240722.0.0),
    and the lintian-overrides of those packages (libabsl20240722-generic). Such names without --bump-abi or
    --keep-abi are an error: whether a release changes the ABI is the maintainer's call (a new SONAME is a
    transition)."""
    old_stem, new_stem = recipe.version.split(".")[0], release.version.split(".")[0]
    pattern = re.compile(rf"(?<![0-9]){re.escape(old_stem)}(?![0-9])")
    follows = len(old_stem) >= 4 and old_stem != new_stem   # a date or a big number: not a coincidental "1"
    edits, holders, bumped = [], [], []
    data = yaml.safe_load(text)
    for i, pkg in enumerate(data.get("packages") or []):
        if follows and pattern.search(str(pkg.get("name", ""))):
            holders.append((("packages", i, "name"), str(pkg["name"])))
        for j, lib in enumerate(pkg.get("libraries") or []):
            at = ("packages", i, "libraries", j)
            held = follows and pattern.search(str(lib.get("soversion", "")))
            if held:
                holders.append(((*at, "soversion"), str(lib["soversion"])))
            if "version" in lib and recipe.version in str(lib["version"]):
                # a version starts with its soversion: where that holds the old stem, it moves with it or not at all
                (bumped if held else edits).append(
                    ((*at, "version"), str(lib["version"]).replace(recipe.version, release.version)))
    if holders and release.abi is None:
        raise recipe.error("packages", f"{len(holders)} package names and soversions hold {old_stem}, the first part "
                           f"of version {recipe.version} ({holders[0][1]}, ...): does {release.version} change "
                           f"the ABI?", hint="run again with --bump-abi (they become "
                           f"{pattern.sub(new_stem, holders[0][1])}, ...: a new SONAME and package, a transition) "
                           "or --keep-abi (they stay)")
    if release.abi != "bump":
        return edits, []
    edits += [(path, pattern.sub(new_stem, value)) for path, value in holders] + bumped
    return edits, [(("lintian-overrides", key), pattern.sub(new_stem, key))
                   for key in data.get("lintian-overrides") or {} if holders and pattern.search(str(key))]


def staged_recipe(recipe: Recipe, text: str) -> Recipe:
    """The recipe as text says, loaded from a hidden file beside it (its paths are relative to its directory);
    its errors name the recipe."""
    temp = recipe.path.with_name(f".{recipe.path.name}.debforge-update")
    temp.write_text(text)
    try:
        return pipeline.load_recipe(temp)
    except DebforgeError as exc:
        exc.file = str(recipe.path) if exc.file == str(temp) else exc.file
        raise
    finally:
        temp.unlink()


def refresh_patches(recipe: Recipe, tarball: Path | None, scratch: Path, retry: str, log) -> Refreshed:
    """The recipe's patches pushed in order with quilt onto a scratch unpack of the new release: one already in
    the release (it applies in reverse) is dropped, one that applies with fuzz is refreshed, one that does not
    apply is an error that shows its rejected hunks."""
    out = Refreshed()
    if not recipe.patches:
        return out
    tree, patches = scratch / "tree", scratch / "patches"
    if tarball is None:
        shutil.copytree(recipe.upstream.dir, tree, symlinks=True)
    else:
        upstream.unpack(tarball, tree)
    patches.mkdir()
    env = {**os.environ, "QUILT_PATCHES": "../patches", "QUILT_PC": ".pc"}
    series: list[str] = []
    for patch in recipe.patches:
        shutil.copyfile(patch, patches / patch.name)
        reverse = subprocess.run(["patch", "-p1", "-R", "--dry-run", "-f", "-s", "-i", str(patches / patch.name)],
                                 cwd=tree, capture_output=True, text=True)
        if reverse.returncode == 0:
            out.dropped.append(patch)
            out.notes.append(f"{patch.name}: {recipe.version} already contains it (it applies in reverse): dropped "
                             f"from the recipe; {patch} is no longer used")
            continue
        series.append(patch.name)
        (patches / "series").write_text("".join(f"{n}\n" for n in series))
        push = subprocess.run([*QUILT, "push", "--fuzz=2"], cwd=tree, env=env, capture_output=True, text=True)
        if push.returncode != 0:
            raise _rejected(recipe, patch, tree, env, retry)
        fuzz = re.findall(r"^(Hunk #\d+ succeeded at \d+ with fuzz \d+.*)$", push.stdout, re.M)
        if fuzz:
            subprocess.run([*QUILT, *QUILT_REFRESH], cwd=tree, env=env, capture_output=True, check=True)
            out.texts[patch] = (patches / patch.name).read_text()
            out.notes.append(f"{patch.name}: applied with fuzz ({'; '.join(fuzz)}): refreshed")
        elif "offset" in push.stdout:
            out.notes.append(f"{patch.name}: applies at an offset (kept as it is)")
    return out


def _rejected(recipe: Recipe, patch: Path, tree: Path, env, retry: str) -> DebforgeError:
    """The error of a patch that does not apply: its rejected hunks, as quilt push -f leaves them."""
    forced = subprocess.run([*QUILT, "push", "-f", "--fuzz=2"], cwd=tree, env=env, capture_output=True, text=True)
    rejects = "".join(f"{rej.relative_to(tree)}:\n{rej.read_text(errors='replace')}"
                      for rej in sorted(tree.rglob("*.rej")))
    shown = rejects or forced.stdout + forced.stderr
    return DebforgeError(f"{patch.name} does not apply to {recipe.source} {recipe.version}; the recipe and the "
                         f"output are left as they were. The rejected hunks:\n{shown.strip()[-4000:]}", str(patch),
                         hint=f"refresh the patch against {recipe.version} (or take it out of the recipe's patches "
                              f"if {recipe.version} holds its change in another form), then run again: {retry}")


def run(path: Path, version: str | None, suite: str | None, tarball: str | None, abi: str | None, output: Path,
        generate, log):
    """Move the recipe at path to the new release and regenerate into output with generate (cli.generate, which
    fills its `keep_plans` argument); (the graph diff, or None when the recipe is at that release already; notes)."""
    recipe = pipeline.load_recipe(path)
    release = choose(recipe, version, suite, tarball, output, log)
    release.abi = abi
    if release.version == recipe.version and release.suite is None and \
            (release.tarball is None or recipe.path.parent / release.tarball == recipe.upstream.tarball):
        log(f"debforge: {path} is at {recipe.source} {recipe.version} already: nothing to do")
        return None, []
    retry = " ".join(["debforge update", str(path), "--version", release.version,
                      *(["--suite", suite] if suite else []), *(["--tarball", tarball] if tarball else []),
                      *([f"--{abi}-abi"] if abi else []), "-o", str(output)])
    log(f"debforge: updating {recipe.source} {recipe.version} -> {release.version}"
        + (f" ({release.suite})" if release.suite else ""))
    new = staged_recipe(recipe, rewrite(recipe, release, []))
    with upstream.Output(output) as out:
        new_tarball = upstream.orig_tarball(new, log)   # fetched and checked before anything is written
        refreshed = refresh_patches(new, new_tarball, out.scratch(output if output.is_dir() else output.parent),
                                    retry, log)
        before, old_tree, old_symbols = _old_plans(recipe, out, log)
        with _restored_on_failure([path, *refreshed.texts]):
            path.write_text(rewrite(recipe, release, refreshed.dropped))
            for patch, text in refreshed.texts.items():
                patch.write_text(text)
            after: dict = {}
            tree, _ = generate(str(path), str(output), None, False, keep_plans=after)
    if before is None:
        return None, refreshed.notes
    return graphdiff.diff(before, after, (old_tree, tree),
                          (old_symbols, graphdiff.symbols_files(tree / "debian"))), refreshed.notes


def _old_plans(recipe: Recipe, out: upstream.Output, log) -> tuple[dict | None, Path | None, dict]:
    """The plans of the release the recipe is at (its tree in the output directory, or a staged unpack that is never
    committed), for the graph diff; None, with a warning, when that release cannot be had any more."""
    tree = out.path / f"{recipe.source}-{recipe.version}"
    try:
        # the packaged release's tree as it was built: its patches may have been refreshed since for the new release
        old = upstream.Prepared(tree, tree / "debian", tree) if (tree / upstream.STAMP).is_file() else \
            upstream.prepare(recipe, out, None, log)
    except DebforgeError as exc:
        log(f"debforge: warning: no graph diff: {recipe.source} {recipe.version} cannot be prepared:\n{exc}")
        return None, None, {}
    # planned as generate plans: with what the externals' packages hold (their -l flags and include roots)
    plans = pipeline.plan_arches(recipe, old.tree, log, old.final, archive.externals_contents(recipe, log))
    return plans, old.tree, graphdiff.symbols_files(old.debian)


@contextlib.contextmanager
def _restored_on_failure(paths: list[Path]):
    """Files put back as they were if the block fails (or is interrupted)."""
    saved = {p: p.read_bytes() for p in paths}
    try:
        yield
    except BaseException:
        for p, data in saved.items():
            p.write_bytes(data)
        raise
