#!/usr/bin/env bash
# version.sh [GATHERD] — prints gatherd's version, GatherVersion.current
# (Sources/GatherSystem/Version.swift, the one place it is kept): as the built
# GATHERD prints it for --version, or, from a gatherd without --version, read
# from that file.
set -euo pipefail
cd "$(dirname "$0")/.."
semver='^[0-9]+\.[0-9]+\.[0-9]+([-+~][0-9A-Za-z.+~-]*)?$'
if [ -n "${1:-}" ] && [ -x "$1" ]; then
  # A gatherd that knows --version prints the version alone (or after its name).
  printed=$(timeout 10 "$1" --version 2>/dev/null </dev/null | awk 'NR == 1 { print $NF }') || printed=""
  if [[ $printed =~ $semver ]]; then echo "$printed"; exit 0; fi
fi
parsed=$(sed -n 's/^ *public static let current = "\(.*\)"$/\1/p' Sources/GatherSystem/Version.swift)
[[ $parsed =~ $semver ]] || { echo "version: no version in Sources/GatherSystem/Version.swift" >&2; exit 1; }
echo "$parsed"
