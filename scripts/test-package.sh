#!/usr/bin/env bash
# test-package.sh — `make install` and `make deb` (docs/systemd.md, "Install").
#
# 1. On the host: builds the package (`make deb`); the installed binaries are
#    stripped and need only the C library and libsystemd (sizes and ldd
#    printed); `lintian` passes (it is installed by scripts/setup.sh for this
#    test alone); `man --warnings` is silent on every manual page in docs/;
#    `make install DESTDIR=…` installs exactly the package's files (besides
#    the copyright and changelog Debian asks of every package).
# 2. In a throw-away systemd machine whose root is the host's, seen through a
#    writable overlay that is discarded (systemd-nspawn --volatile=overlay:
#    dpkg's database and /usr can be written there): scripts/package/checks.sh
#    installs the package with dpkg -i, checks the service, submits as a user
#    of a group opened as the README shows, tries the hardened drop-in, purges
#    and finds no file of the package left, then does it again with
#    `apt install ./gatherd_VERSION_ARCH.deb`.
#
# Step 1's lintian and step 2 need root (and step 2 systemd-nspawn); without
# them they are skipped with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
STATE=/run/gatherd-package-test
NAME=gatherd-package-test
scratch=.build-static

say() { printf '== package: %s\n' "$*"; }
fail() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }

# --- 1. on the host ----------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  scripts/setup.sh lintian dpkg-dev man-db bash-completion
fi
say "make deb"
mkdir -p "$scratch"
make --no-print-directory deb SCRATCH="$scratch" >"$scratch/package-build.log" 2>&1 \
  || { cat "$scratch/package-build.log" >&2; fail "make deb failed"; }
grep '^deb: ' "$scratch/package-build.log" | sed 's/^/== package: /'
version=$(scripts/version.sh "$scratch/release/gatherd")
deb=gatherd_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "make deb made no $deb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/deb"
for bin in gatherd gatherctl; do
  path=$work/deb/usr/bin/$bin
  if readelf -S "$path" | grep -Eq ' \.(symtab|debug_info) '; then
    fail "$bin is not stripped"
  fi
  libraries=$(readelf -d "$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  say "$bin: $(stat -c %s "$path") bytes, stripped; needs: $libraries"
  for lib in $libraries; do
    case $lib in
      libc.so.*|libm.so.*|ld-linux*|libsystemd.so.*) ;;
      *) fail "$bin needs $lib: only the C library and libsystemd are expected" ;;
    esac
  done
done
ldd "$work/deb/usr/bin/gatherd" | sed 's/^/== package: ldd gatherd: /'

if command -v lintian >/dev/null; then
  # Any error or warning fails the test (the informational tags that remain
  # are explained in docs/systemd.md, "lintian").
  tags=$(lintian "$deb" 2>&1 | grep -v '^running with root privileges' || true)
  shown=$(printf '%s\n' "$tags" | grep -E '^[EW]: ' || true)
  [ -z "$shown" ] || fail "lintian: $shown"
  say "lintian: no error or warning"
else
  say "SKIPPED lintian: not installed (scripts/setup.sh lintian installs it, as root)"
fi

for page in docs/*.[158]; do
  [ -f "$page" ] || continue
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man --warnings -l $page: $warnings"
  say "man --warnings -l $page: no warning"
done

# make install stages exactly the package's files.
make --no-print-directory install DESTDIR="$work/install" PREFIX=/usr SCRATCH="$scratch" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log" >&2; fail "make install DESTDIR=… failed"; }
(cd "$work/install" && find . ! -type d | sort) > "$work/install.list"
(cd "$work/deb" && find . ! -type d | sort | grep -vx './usr/share/doc/gatherd/copyright' \
  | grep -vx './usr/share/doc/gatherd/changelog.gz') > "$work/deb.list"
if ! diff -u "$work/deb.list" "$work/install.list" >"$work/list.diff"; then
  cat "$work/list.diff" >&2; fail "make install DESTDIR=… and the package differ"
fi
# …with the same contents (the binaries stripped alike).
diff -r -x copyright -x changelog.gz "$work/deb" "$work/install" >&2 \
  || fail "make install DESTDIR=… and the package hold different files"
say "make install DESTDIR=… installs the package's $(wc -l < "$work/install.list") files:"
sed 's/^\./== package:   /' "$work/install.list"
make --no-print-directory uninstall DESTDIR="$work/install" PREFIX=/usr >/dev/null
left=$(cd "$work/install" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall DESTDIR=… left: $left"
say "make uninstall DESTDIR=… removes them all"

# --- 2. in a container ---------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  say "SKIPPED the container test: needs root (booting systemd-nspawn)"; exit 0
fi
if ! command -v systemd-nspawn >/dev/null || ! command -v nsenter >/dev/null; then
  say "SKIPPED the container test: systemd-nspawn missing (scripts/setup.sh installs systemd-container)"; exit 0
fi

# The machine sees the root file system only: a /usr, /var or /etc mounted
# apart would be missing from it.
for dir in /usr /var /etc; do
  if [ "$(findmnt -n -o TARGET --target "$dir")" != / ]; then
    say "SKIPPED the container test: $dir is a file system of its own (the machine sees the root file system only)"; exit 0
  fi
done

mkdir -p "$STATE"
exec 8>"$STATE.lock"
flock 8

. scripts/lib-machine.sh

unbind_root() { if mountpoint -q "$STATE/root"; then umount "$STATE/root"; fi; }

stop_container() {
  machine_stop || true
  unbind_root
}

cleanup() {
  local status=$?
  if [ $status != 0 ] && [ -f "$STATE/leader" ]; then
    echo "---- gatherd's journal in the machine (last 40 lines)" >&2
    inside journalctl -u gatherd --no-pager -n 40 >&2 2>/dev/null || true
  fi
  stop_container
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_container

stage=$project/$scratch/package-stage
rm -rf "$stage"
mkdir -m 755 "$stage"
ln "$deb" "$stage/"
cp scripts/package/checks.sh "$stage/"

say "booting a systemd machine (the host's root through a throw-away overlay)"
# nspawn refuses -D / itself: give it the root file system bound elsewhere
# (not recursive: /proc, /sys, /dev and /run are the machine's own).
mkdir -p "$STATE/root"
mountpoint -q "$STATE/root" || mount --bind / "$STATE/root"
machine_boot -D "$STATE/root" --volatile=overlay --bind-ro="$stage":/host
say "booted ($s)"

inside bash ${PACKAGE_TEST_TRACE:+-x} /host/checks.sh "/host/$deb" "$project"
say "passed"
