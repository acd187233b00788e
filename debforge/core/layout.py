"""The build tree's layout, shared by the planner and the backends: where debian/rules builds, where generated
files land (bazel's bin directory), where host tools go."""

BUILDDIR = "obj-debforge"
GENDIR = f"{BUILDDIR}/gen"        # bazel's bin directory: outputs keep their package path under it
HOST_DIR = f"{BUILDDIR}/host"     # host tools the build runs, linked against the generic copies
SCRIPTS = "debian/debforge"       # the helper scripts every generated debian/ carries (data/skel/debforge/)
MANIFEST = "debforge/generated.sha256"   # under debian/: the checksum of every file debforge generated
HWCAPS_TEST = "hwcaps"            # debian/tests names of debforge's own autopkgtests: which copy ld.so loads,
UPSTREAM_TEST = "upstream-tests"  # upstream's tests, and whether what the C headers declare links (a recipe's
HEADERS_TEST = "c-headers-link"   # consumer-tests take other names)
