"""Dependency resolution: the in-tree targets a library (or host tool) compiles, the recipe libraries it links
instead, and the externals it reaches, which become Debian -dev packages and -l flags. The recipe's leave-out
and dropped externals cut the closure; what was cut is noted for the plan."""

from __future__ import annotations

from ..core.errors import DebforgeError
from ..graph import Target, split_label
from .scope import Scope
from .targets import HEADER_ONLY_KINDS, LIBRARY_VIEWS, checked, deps_of, reached, where


class Dependencies:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.externals_used: set[str] = set()
        self.used: set[str] = set()              # ... by the library being planned
        self.labels: set[str] = set()            # ... and the externals' targets it names
        self.compiled: dict[str, list[str]] = {}   # library name -> labels of the targets compiled into it
        self.external_libs: dict[str, list[str]] = {}   # library name -> the external -l it links
        self.cut: list[tuple[str, str, str]] = []   # ... and what leave-out cut from the one being planned
        self.chains: dict[str, list[str]] = {}      # ... a kept target that lost one -> the targets that reached it
        self.registrations: set[str] = set()        # targets left out that are alwayslink registrations
        self.patched: set[str] = set()              # ... whose uses in kept code a recipe patch takes out

    def start_library(self) -> None:
        """What the library about to be planned uses and cuts starts empty."""
        self.used = set()
        self.labels = set()
        self.cut = []
        self.chains = {}

    def use(self, *packages: str) -> None:
        self.externals_used.update(packages)
        self.used.update(packages)

    def external(self, label: str, referrer: str, via: list[str] = ()) -> list[str]:
        """The -l flags of the external `label` (its Debian package is used), or none if the recipe drops it."""
        repo = self.scope.mapped_package(label) or split_label(label)[0]
        ext = self.scope.externals.get(repo)
        if ext is None:
            recipe = self.scope.recipe
            hint = f"add to {recipe.path} under externals: {repo}: lib...-dev"
            cuts = recipe.cuts_on([*via, label])   # where the recipe knows what removes a dependency on the way
            raise DebforgeError(f"dependency '{label}' is in external repository @{repo}, which the recipe does "
                                f"not map to a Debian package{reached(via)}", *where(referrer),
                                hint=f"{'; '.join(cuts)} (known-cuts of {recipe.path}); or {hint}" if cuts else hint)
        if ext.drop:   # noted for the plan, as leave-out's cuts are
            via_label = via[-1] if via else referrer
            if (label, via_label, ext.drop) not in self.cut:
                self.cut.append((label, via_label, ext.drop))
            self.chains.setdefault(via_label, list(via[:-1]))
            return []
        self.use(*ext.packages)
        self.labels.add(label)
        if ext.libs:   # the recipe's list overrides what the package's pkg-config files say
            return list(ext.libs)
        contents = self.scope.contents
        module = ext.module_of(label)
        return list(dict.fromkeys(lib for p in ext.packages if p in contents for lib in contents[p].libs_for(
            [module] if module else contents[p].modules_for([label]))))

    def leave_out(self, label: str, user: Target, via: list[str]) -> bool:
        """Whether the recipe's leave-out cuts the dependency of `user` (reached through `via`) on `label`
        (noted for the plan)."""
        entry = self.scope.recipe.leave_out_entry(label)
        if entry is None:
            return False
        ws = self.scope.ws
        rule = ws.target(label)
        if rule is not None and rule.kind == "alias" and isinstance(rule.attrs.get("actual"), str):
            rule = ws.target(rule.attrs["actual"])
        if rule is not None and rule.attrs.get("alwayslink"):   # a registration: nothing calls into it
            self.registrations.add(label)
        if entry.patch:
            self.patched.add(label)
        if (label, user.label, entry.reason) not in self.cut:
            self.cut.append((label, user.label, entry.reason))
        self.chains.setdefault(user.label, via)
        return True

    def visible(self, closure: list[Target], siblings: list[str]) -> list[Target]:
        """The targets whose includes and defines the compiles of a closure see: its own, and those compiled into
        the recipe libraries it links (bazel propagates them whatever links: TF Lite's TFLITE_WITH_RUY)."""
        return closure + [t for name in siblings for label in self.compiled.get(name, ())
                          if (t := self.scope.ws.target(label)) is not None]

    def closure(self, root: Target, static: bool = False, linked: dict[str, str] | None = None
                ) -> tuple[list[Target], list[str], list[str]]:
        """In-tree cc_library targets compiled into the library (deps first), sibling libraries, external -l.
        `static`: recipe libraries are compiled in too (a host tool runs before they exist). `linked`: targets
        compiled into a library this one links -> that library, which is linked instead (as cc_shared_library's
        dynamic_deps: one copy of each target, so TF's op and kernel registrations run once)."""
        walk = _Walk(self, static, linked or {})
        walk.visit(root, [])
        # what links a recipe library links its externals too, as bazel links every transitive dependency: inline
        # code of their headers (protobuf's logging in TF's op generators) calls into them (--as-needed drops the rest)
        for lib in (x for name in walk.siblings for x in self.external_libs.get(name, ())):
            walk.add(walk.ext_libs, lib)
        return walk.order, walk.siblings, walk.ext_libs


class _Walk:
    """One walk of a closure, depth first, deps before their users."""

    def __init__(self, deps: Dependencies, static: bool, linked: dict[str, str]):
        self.deps = deps
        self.scope = deps.scope
        self.static = static
        self.linked = linked
        self.order: list[Target] = []
        self.siblings: list[str] = []
        self.ext_libs: list[str] = []
        self.state: dict[str, str] = {}

    @staticmethod
    def add(names: list[str], name: str) -> None:
        if name not in names:
            names.append(name)

    def visit(self, t: Target, chain: list[str]) -> None:
        if self.state.get(t.label) == "done":
            return
        if self.state.get(t.label) == "active":
            raise DebforgeError(f"dependency cycle: {' -> '.join(chain + [t.label])}", *where(t.location))
        self.state[t.label] = "active"
        checked(t)
        for dep in deps_of(t):
            d = self.follow(dep, t, chain)
            if d is not None:
                self.visit(d, chain + [t.label])
        self.state[t.label] = "done"
        self.order.append(t)

    def linked_library(self, dep: str) -> str | None:
        """The recipe library linked for the dependency `dep`, if one is."""
        name = self.scope.lib_by_label[dep].name if dep in self.scope.lib_by_label and not self.static else \
            self.linked.get(dep)
        imported = self.scope.imported_library(dep)
        if imported and (not self.static or imported in self.linked.values()):
            name = imported   # a cc_import of a recipe library's shared object
        return name

    def follow(self, dep: str, t: Target, chain: list[str]) -> Target | None:
        """The in-tree target t's dependency `dep` adds to the closure; None when it is an external, a linked
        library, left out, or a header-only rule."""
        if dep.startswith("@") or self.scope.mapped_package(dep):
            for lib in self.deps.external(dep, t.location, chain + [t.label]):
                self.add(self.ext_libs, lib)
            return None
        name = self.linked_library(dep)
        if name:
            self.add(self.siblings, name)
            return None
        if self.deps.leave_out(dep, t, chain):
            return None
        d = self.scope.resolve(dep, t.location)
        if d.label != dep and self.deps.leave_out(d.label, t, chain):   # an alias of a target left out
            return None
        if d.label != dep and d.label in self.linked:   # an alias of what a linked library holds
            self.add(self.siblings, self.linked[d.label])
            return None
        if d.kind in HEADER_ONLY_KINDS:
            return None
        if d.kind in LIBRARY_VIEWS:
            d = LIBRARY_VIEWS[d.kind](d)
        if d.kind not in self.scope.kinds:
            raise DebforgeError(f"'{t.label}' depends on '{dep}', a {d.kind} ({d.location}); only "
                                f"cc_library dependencies can be built so far", *where(t.location))
        return d
