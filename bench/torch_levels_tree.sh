#!/bin/bash
# bench/torch_levels.py on libtorch_cpu and libc10 copies of a build tree instead of installed packages, for the
# level verdict when the recipe packages no copies (recipes/pytorch.yaml: variants: false on libtorch-cpu2.6):
# the generic copies and LEVEL's (built in a tools/chroot-build root: `tools/chroot-build run DIR TREE
# torch_cpu@LEVEL c10@LEVEL` on a tree generated from a recipe without variants: false) laid out as the packages
# install them, in an overlay of the root (which has their dependencies and g++): the generic copies in the
# multiarch directory, LEVEL's in glibc-hwcaps/LEVEL/, debug information stripped as dh_strip does, the -dev
# package's headers (DIR/root/HEADERS/usr/include, laid out as installed) under /usr/include. The root itself is
# left as it was. Arguments after LEVEL go to torch_levels.py.
#
#   bench/torch_levels_tree.sh DIR TREE HEADERS LEVEL [--rounds N] [--iters N] [--aten-capability C]
#   e.g. bench/torch_levels_tree.sh /srv/debforge-heavy/torch /srv/debforge-heavy/torch/gen/pytorch-2.6.0+dfsg \
#        /srv/debforge-heavy/torch/inc x86-64-v4 --rounds 10 --iters 40
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
dir=$1 tree=$2 headers=$3 level=$4
shift 4
repo=$(cd "$(dirname "$0")/.." && pwd)
objs=$tree/obj-debforge
work=$(mktemp -d "$dir/bench-overlay.XXXXXX")
mkdir -p "$work"/{upper,work,root}
mount -t overlay overlay -o "lowerdir=$dir/root,upperdir=$work/upper,workdir=$work/work" "$work/root"
trap 'umount "$work/root/proc" 2>/dev/null || true; umount "$work/root"; rm -rf "$work"' EXIT
libdir=$work/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
mkdir -p "$libdir/glibc-hwcaps/$level"
for lib in torch_cpu c10; do
    for copy in generic "$level"; do
        dest=$libdir$([ "$copy" = generic ] || echo "/glibc-hwcaps/$level")
        objcopy --strip-debug "$objs/$copy/lib$lib.so.2.6.0" "$dest/lib$lib.so.2.6.0"
        ln -sf "lib$lib.so.2.6.0" "$dest/lib$lib.so.2.6"
    done
    ln -sf "lib$lib.so.2.6" "$libdir/lib$lib.so"
done
cp -a "$dir/root$headers/usr/include/." "$work/root/usr/include/"
mkdir -p "$work/root/opt/debforge/debforge"
cp -a "$repo/bench" "$work/root/opt/debforge/"
cp -a "$repo/debforge/__init__.py" "$repo/debforge/core" "$work/root/opt/debforge/debforge/"
chroot "$work/root" ldconfig
mount -t proc proc "$work/root/proc"
chroot "$work/root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root \
    python3 /opt/debforge/bench/torch_levels.py --levels "generic,$level" "$@"
