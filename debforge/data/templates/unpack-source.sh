#!/bin/sh
# unpack-source SRCDIR NAME VERSION DEST: the tarball that NAME-src installed in SRCDIR, checked against its
# manifest, unpacked into DEST with this package's upstream patches (debian/debforge/patches/series) applied.
set -eu
srcdir=$1
name=$2
version=$3
dest=$4
top="$name-$version"
[ -f "$srcdir/$top.manifest" ] || { echo "unpack-source: $srcdir/$top.manifest is missing (is $name-src installed?)" >&2; exit 1; }
sed -n 's/^ //p' "$srcdir/$top.manifest" | (cd "$srcdir" && sha256sum --check --strict --quiet)
rm -rf "$dest"
mkdir -p "$dest"
tar -xf "$srcdir/$top.tar.xz" -C "$dest" --strip-components=1 --no-same-owner
ln -s ../debian "$dest/debian"   # the ninja graph runs generator scripts from debian/debforge/
while read -r patch; do
    [ -n "$patch" ] || continue
    echo "unpack-source: applying $patch"
    patch -d "$dest" -p1 --no-backup-if-mismatch --forward < "debian/debforge/patches/$patch"
done < debian/debforge/patches/series
