#!/usr/bin/env bash
# setup-slurm.sh — a one-node Slurm cluster on localhost for gatherd's
# `executor: slurm` tests and benchmark (docs/slurm.md). Debian 12.
#
# Idempotent: installs slurmd, slurmctld, slurm-client and munge when missing,
# writes a munge key and a slurm.conf when missing, starts munged, slurmctld
# and slurmd when they are not running, then waits until `sinfo` shows the
# node idle. A cluster that already answers is left alone, and so is a
# slurm.conf this script did not write (it exits 0 saying so). Its own
# slurm.conf is written again when it names another node (the host was
# renamed, or the disk image came from another machine), and the slurmctld
# and slurmd it started on the old one (their pid files) are restarted.
#
# The configuration is /etc/slurm/slurm.conf, where srun, squeue, scancel and
# gatherd look without SLURM_CONF.
#
# Needs root (packages, daemons run as root here). Without root it prints why
# and exits 0: the Slurm tests then skip themselves with the reason.
set -euo pipefail
conf=/etc/slurm/slurm.conf
header="# One-node Slurm cluster on localhost, written by gatherd's scripts/setup-slurm.sh."
node=$(hostname -s)
# 90% of the memory, in MiB: what jobs may ask for with --mem (slurmd refuses
# a RealMemory above what it finds; without one a node has 1 MiB).
memory=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

if [ "$(id -u)" != 0 ]; then
  echo "setup-slurm: skipped: not root (the Slurm tests will skip)"
  exit 0
fi

idle() { sinfo -h -N -n "$node" -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; }

if command -v sinfo >/dev/null && idle; then
  echo "setup-slurm: cluster already running (node $node)"
  exit 0
fi

need=()
for pkg in slurmd slurmctld slurm-client munge; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-slurm: installing ${need[*]}"
  # Another apt user may hold the dpkg lock for a while: wait for it.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null; }
fi

# munge: a random key readable by munge only, and munged running as munge.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi

# slurm.conf: one node (this host), one partition shared by up to 16 jobs per
# CPU so a test's many `sleep` steps all start at once.
mkdir -p "$(dirname "$conf")" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
ours() { [ "$(head -n 1 "$conf")" = "$header" ]; }
if [ -s "$conf" ] && ours && ! grep -q "^NodeName=$node " "$conf"; then
  echo "setup-slurm: $conf names another node than $node: writing it again"
  # Stop what this script started on the old configuration (by pid file).
  for pidfile in /run/slurm/slurmctld.pid /run/slurm/slurmd.pid; do
    if [ -s "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  rm -f "$conf"
fi
if [ ! -s "$conf" ]; then
  cat >"$conf" <<EOF
$header
ClusterName=gatherd-test
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
KillWait=5
InactiveLimit=0
MinJobAge=30
NodeName=$node CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE OverSubscribe=FORCE:16 State=UP
EOF
fi

# Never start daemons on a configuration this script did not write (a real
# cluster's, say): the tests then skip, saying the node is not idle.
if ! ours; then
  echo "setup-slurm: $conf was not written by this script: leaving Slurm alone (the Slurm tests will skip)"
  exit 0
fi
if ! pgrep -x slurmctld >/dev/null; then /usr/sbin/slurmctld -f "$conf"; fi
if ! pgrep -x slurmd >/dev/null; then /usr/sbin/slurmd -f "$conf"; fi

for _ in $(seq 1 60); do
  if idle; then
    echo "setup-slurm: node $node idle"
    exit 0
  fi
  # A node that was down before a restart comes back on request.
  scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
  sleep 0.5
done
echo "setup-slurm: node $node not idle after 30 s:" >&2
sinfo -N >&2 || true
exit 1
