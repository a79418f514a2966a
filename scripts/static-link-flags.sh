#!/usr/bin/env bash
# static-link-flags.sh SCRATCH — prints the `swift build` flags that link
# libstdc++ and libgcc's unwinder into a `--static-swift-stdlib` executable,
# so that it needs only the C library and libsystemd at run time.
#
# Why: the static Swift runtime is C++, and the toolchain's
# static-stdlib-args.lnk asks for it with a plain `-lstdc++`, which the linker
# satisfies with the shared libstdc++.so it finds first (in GCC's folder); the
# shared libstdc++ in turn brings libgcc_s. A folder holding only GCC's
# libstdc++.a, searched before GCC's own (`-L` given to swiftc comes first),
# makes the same `-lstdc++` pick the archive; `-lgcc_eh` then supplies the
# unwinder the archive needs before the linker reaches `--as-needed -lgcc_s`,
# so libgcc_s is not needed either.
#
# Prints nothing (and says why on stderr) where GCC's static archives are
# missing: the binaries then still work, with the two shared libraries.
set -euo pipefail
scratch=${1:?usage: static-link-flags.sh SCRATCH-PATH}
clang=$(dirname "$(readlink -f "$(command -v swift)")")/clang
[ -x "$clang" ] || clang=$(command -v clang || command -v gcc || true)
stdcxx=""; gcc_eh=""
if [ -n "$clang" ]; then
  stdcxx=$("$clang" -print-file-name=libstdc++.a)
  gcc_eh=$("$clang" -print-file-name=libgcc_eh.a)
fi
if [ ! -f "$stdcxx" ] || [ ! -f "$gcc_eh" ]; then
  echo "static-link-flags: no libstdc++.a or libgcc_eh.a (libstdc++-12-dev, libgcc-12-dev): libstdc++ and libgcc_s stay shared" >&2
  exit 0
fi
dir=$scratch/static-cxx
mkdir -p "$dir"
ln -sfn "$stdcxx" "$dir/libstdc++.a"
printf '%s\n' "-Xswiftc -L$(cd "$dir" && pwd) -Xlinker -lgcc_eh"
