# lib.sh — shell helpers the project's scripts share; source it.

# swift build without its progress lines; returns its status.
quiet_build() {
  local log rc=0
  log=$(mktemp)
  swift build "$@" >"$log" 2>&1 || rc=$?
  grep -Ev "^\[[0-9]+/[0-9]+\]|^Compiling|^Building|^Write |^Build of" "$log" || true
  rm -f "$log"
  return $rc
}
