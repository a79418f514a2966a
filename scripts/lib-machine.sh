# Shared by the tests that boot a systemd machine with systemd-nspawn
# (scripts/test-systemd-unit.sh, scripts/test-package.sh, scripts/test-fleet.sh). The caller sets
# NAME (the machine's name) and STATE (a folder holding nspawn.pid and
# leader, the PIDs of nspawn and of the machine's PID 1).

# The PID of the machine's PID 1, as the host sees it.
leader() { cat "$STATE/leader"; }
# Runs a command inside the booted machine, as its root.
inside() { nsenter -t "$(leader)" -a "$@" 8>&-; }

# Boots a machine: systemd-nspawn with the caller's options (the root, the
# binds), -M NAME, no network, the console on a pipe, in the background; then
# waits up to 30 s for its PID 1 to say running or degraded, and keeps that
# PID in $STATE/leader. systemd-networkd-wait-online is masked: once the Slurm
# packages are installed (the Slurm tests do so) the presets enable it, and
# with a private network the boot would wait two minutes for it. Sets $s to
# the state the machine reached.
machine_boot() {
  setsid systemd-nspawn "$@" --register=no --keep-unit --private-network \
      --console=pipe -M "$NAME" \
      -b systemd.mask=systemd-networkd-wait-online.service >"$STATE/nspawn.log" 2>&1 </dev/null 8>&- &
  echo $! > "$STATE/nspawn.pid"
  local i=0 l
  while :; do
    i=$((i+1))
    [ $i -le 150 ] || { cat "$STATE/nspawn.log" >&2; fail "the machine did not boot in 30 s"; }
    l=$(pgrep -P "$(cat "$STATE/nspawn.pid")" -x systemd || true)
    if [ -n "$l" ]; then
      s=$(nsenter -t "$l" -a systemctl is-system-running 2>/dev/null || true)
      case "$s" in running|degraded) echo "$l" > "$STATE/leader"; break ;; esac
    fi
    sleep 0.2
  done
}

# Powers the machine off (SIGKILL to nspawn after 10 s) and removes what
# nspawn leaves for it in /run, and the empty cgroups it makes beside itself
# when PID 1 is not systemd (rmdir spares busy ones). Returns 1 when no
# machine was running.
machine_stop() {
  [ -f "$STATE/nspawn.pid" ] || return 1
  local pid i=0
  pid=$(cat "$STATE/nspawn.pid")
  [ -f "$STATE/leader" ] && inside systemctl poweroff >/dev/null 2>&1 || true
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i+1)); [ $i -le 100 ] || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.1
  done
  rm -f "$STATE/nspawn.pid" "$STATE/leader"
  rm -rf "/run/systemd/nspawn/propagate/$NAME" "/run/systemd/nspawn/unix-export/$NAME"
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/unix-export /run/systemd/nspawn 2>/dev/null || true
  for d in /sys/fs/cgroup/systemd/payload /sys/fs/cgroup/systemd/supervisor \
           /sys/fs/cgroup/unified/payload /sys/fs/cgroup/unified/supervisor; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  return 0
}
