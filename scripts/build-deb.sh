#!/usr/bin/env bash
# build-deb.sh — `make deb`: gatherd_VERSION_ARCH.deb in the project folder,
# staged by the same install step as `make install` (install-files with
# PREFIX=/usr and a DESTDIR), then packed with dpkg-deb. Needs the release
# build (`make build`, which `make deb` runs first).
#
# The package holds exactly what `make install PREFIX=/usr` installs, plus the
# two files Debian policy asks of every package: usr/share/doc/gatherd/copyright
# and its changelog.gz. The maintainer scripts are in packaging/deb/; the
# dependencies come from dpkg-shlibdeps (the C library and libsystemd).
#
#   MAINTAINER="Name <address>"  the Maintainer field (a default otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022
scratch=${SCRATCH:-.build-static}
built=$scratch/release
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v $tool >/dev/null || { echo "deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done
[ -x "$built/gatherd" ] || { echo "deb: no $built/gatherd: run make build first" >&2; exit 1; }

version=$(scripts/version.sh "$built/gatherd")
arch=$(dpkg --print-architecture)
maintainer=${MAINTAINER:-gatherd maintainers <gatherd@example.org>}
deb=gatherd_${version}_${arch}.deb
stage=$PWD/$scratch/deb/root
rm -rf "$scratch/deb"
mkdir -p "$stage"

echo "deb: staging make install-files PREFIX=/usr DESTDIR=$scratch/deb/root"
make --no-print-directory install-files PREFIX=/usr DESTDIR="$stage" SCRATCH="$scratch" >"$scratch/deb/install.log" \
  || { cat "$scratch/deb/install.log" >&2; exit 1; }

doc=$stage/usr/share/doc/gatherd
install -D -m 0644 packaging/deb/copyright "$doc/copyright"
# A native package's changelog, in Debian's format, dated by the last commit
# (the build is then the same whenever it is made).
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
printf 'gatherd (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
  "$version" "$version" "$maintainer" "$when" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# dpkg-shlibdeps reads debian/control of a source tree: give it a minimal one.
shlibs_dir=$PWD/$scratch/deb/shlibs
mkdir -p "$shlibs_dir/debian"
printf 'Source: gatherd\n\nPackage: gatherd\nArchitecture: any\n' > "$shlibs_dir/debian/control"
depends=$(cd "$shlibs_dir" && dpkg-shlibdeps -O "-e$stage/usr/bin/gatherd" "-e$stage/usr/bin/gatherctl" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

mkdir -m 0755 "$stage/DEBIAN"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
{
  echo "Package: gatherd"
  echo "Version: $version"
  echo "Architecture: $arch"
  echo "Maintainer: $maintainer"
  echo "Installed-Size: $size"
  echo "Depends: $depends"
  # srun, squeue, scancel, scontrol for executor: slurm (docs/slurm.md).
  echo "Suggests: slurm-client"
  echo "Section: admin"
  echo "Priority: optional"
  echo "Description: $(cat packaging/deb/description)"
} > "$stage/DEBIAN/control"

# Every file's time no later than the last commit's (dpkg-deb clamps to it).
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s) \
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "deb: $deb ($(du -h "$deb" | cut -f1)), Depends: $depends"
