#!/usr/bin/env bash
# checks.sh DEB — runs inside the throw-away systemd machine that
# scripts/test-package.sh boots (never on a real host: it installs and purges
# a package). Its root is the host's through an overlay that is discarded.
#
# Proves, with systemd as PID 1: dpkg -i enables and starts gatherd (active,
# enabled, the spool made by the tmpfiles entry, the catalog taken by
# journalctl); a user in a group opened as the README shows submits with
# `gatherctl submit --wait` and gets the outcome; installing again (an
# upgrade) restarts gatherd and keeps the spool; the hardened drop-in example
# keeps gatherd working; dpkg --purge leaves no file of the package, nor what
# its maintainer scripts made; `apt install ./DEB` works the same way.
set -euo pipefail
deb=${1:?usage: checks.sh DEB}
SPOOL=/var/spool/gatherd
COMPOUND_ID=2567adab07a549029b2ad935f355fc66

say() { printf '== package: %s\n' "$*"; }
fail() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

# Waits (at most 30 s) until gatherd is active.
wait_active() {
  local i=0
  until [ "$(systemctl is-active gatherd || true)" = active ]; do
    i=$((i+1)); [ $i -le 300 ] || fail "gatherd is not active: $(systemctl status gatherd --no-pager 2>&1 | head -20)"
    sleep 0.1
  done
}

# Submits a job as alice and checks what gatherctl submit --wait prints.
submit_as_alice() {
  local id=$1 out status=0
  printf '{"tasks": [{"name": "who", "command": ["sh", "-c", "id -un; test \\"$(id -un)\\" = alice"]}]}\n' \
    > "/home/alice/$id.json"
  chown alice: "/home/alice/$id.json"
  out=$(cd /home/alice && timeout 60 runuser -u alice -- gatherctl submit --wait "$id.json" 2>&1) || status=$?
  say "alice: gatherctl submit --wait $id.json: $(printf '%s' "$out" | tr '\n' '|') (exit $status)"
  expect "exit status of submit --wait $id" "$status" 0
  printf '%s\n' "$out" | grep -qx "$id: succeeded" || fail "submit --wait did not print '$id: succeeded'"
  expect "owner of $id's record" "$(stat -c %G $SPOOL/done/$id/result.json)" alice
}

# Whether the journal's catalog holds gatherd's entries (read whole first: with
# pipefail, grep -q ending the pipe early would read as a failure).
catalog_has_gatherd() {
  local text
  text=$(journalctl --dump-catalog $COMPOUND_ID 2>/dev/null || true)
  [[ $text == *"Defined-By: gatherd"* ]]
}

# Every path the package installed and everything its scripts made is gone
# (directories that other packages also hold excepted).
check_gone() {
  local list=$1 path left=""
  while read -r path; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    # A directory stays when another package holds it too ("/." is the root;
    # /lib is the merged /usr's symlink).
    if [ -d "$path" ]; then
      case $path in /.|/lib) continue ;; esac
      dpkg -S "$path" >/dev/null 2>&1 && continue
    fi
    left="$left $path"
  done < "$list"
  for path in $SPOOL /etc/systemd/system/multi-user.target.wants/gatherd.service \
      /etc/systemd/system/gatherd.service /var/lib/systemd/deb-systemd-helper-enabled/gatherd.service.dsh-also \
      /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/gatherd.service \
      /var/lib/systemd/deb-systemd-helper-masked/gatherd.service; do
    if [ -e "$path" ] || [ -L "$path" ]; then left="$left $path"; fi
  done
  for path in /var/lib/dpkg/info/gatherd.*; do
    if [ -e "$path" ]; then left="$left $path"; fi
  done
  left=$(echo $left)
  [ -z "$left" ] || fail "left after the purge: $left"
  if catalog_has_gatherd; then
    fail "the journal catalog still has gatherd's entries after the purge"
  fi
  expect "unit files after the purge" "$(systemctl list-unit-files --no-legend gatherd.service | wc -l)" 0
}

# A container image's "start no service" policy (Docker's policy-rc.d exits
# 101) would keep deb-systemd-invoke from starting gatherd, as on no real host.
if [ -e /usr/sbin/policy-rc.d ]; then
  say "removing /usr/sbin/policy-rc.d in the machine (it forbids starting services)"
  rm /usr/sbin/policy-rc.d
fi

say "dpkg -i $(basename "$deb")"
dpkg -i "$deb" > /run/dpkg.log 2>&1 || { cat /run/dpkg.log >&2; fail "dpkg -i failed"; }
wait_active
expect "is-enabled" "$(systemctl is-enabled gatherd)" enabled
expect "ExecStart" "$(systemctl show -p ExecStart --value gatherd | sed -n 's/.*path=\([^ ;]*\).*/\1/p')" /usr/bin/gatherd
expect "the spool made by tmpfiles" "$(stat -c '%F %a %U' $SPOOL)" "directory 755 root"
catalog_has_gatherd \
  || fail "the catalog was not updated at install (systemd's trigger on /usr/lib/systemd/catalog)"
say "active and enabled; spool made; catalog taken"
man -w gatherd.job >/dev/null || fail "man gatherd.job finds no page"
for page in /usr/share/man/man*/gather*; do   # not *gather*: Slurm has acct_gather.conf.5
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man --warnings -l $page: $warnings"
done
say "manual pages: $(ls /usr/share/man/man*/gather* | tr '\n' ' ')"
# bash-completion finds the installed completions by the command's name.
if [ -f /usr/share/bash-completion/bash_completion ]; then
  for cmd in gatherctl gatherd; do
    [ -f /usr/share/bash-completion/completions/$cmd ] || continue
    loaded=$(bash -c '. /usr/share/bash-completion/bash_completion; __load_completion "$1" && complete -p "$1"' - $cmd 2>&1 || true)
    case $loaded in
      "complete "*"-F "*" $cmd") say "bash-completion loads the completion of $cmd: $loaded" ;;
      *) fail "bash-completion did not load the completion of $cmd: $loaded" ;;
    esac
  done
else
  say "SKIPPED loading the completions through bash-completion: it is not installed"
fi

say "a user of the group jobs submits (incoming/ and cancel/ opened as the README shows)"
groupadd jobs
useradd -m -G jobs alice
chgrp jobs $SPOOL/incoming $SPOOL/cancel
chmod 1730 $SPOOL/incoming $SPOOL/cancel
submit_as_alice pkg-alice

say "dpkg -i again (an upgrade): gatherd restarted, the spool and its group kept"
pid=$(systemctl show -p MainPID --value gatherd)
dpkg -i "$deb" > /run/dpkg.log 2>&1 || { cat /run/dpkg.log >&2; fail "dpkg -i over the installed package failed"; }
wait_active
[ "$(systemctl show -p MainPID --value gatherd)" != "$pid" ] || fail "gatherd was not restarted by the upgrade"
expect "incoming/ after the upgrade" "$(stat -c '%a %G' $SPOOL/incoming)" "1730 jobs"
[ -f $SPOOL/done/pkg-alice/result.json ] || fail "the upgrade lost the record of pkg-alice"

systemd-analyze security gatherd 2>/dev/null | grep -i "overall exposure" | sed 's/^→ */== package: default unit: /' || true

say "the hardened drop-in example"
mkdir -p /etc/systemd/system/gatherd.service.d
cp /usr/share/doc/gatherd/examples/hardened.conf /etc/systemd/system/gatherd.service.d/
systemctl daemon-reload
systemctl restart gatherd
wait_active
expect "NoNewPrivileges with the drop-in" "$(systemctl show -p NoNewPrivileges --value gatherd)" yes
systemd-analyze security gatherd 2>/dev/null | grep -i "overall exposure" | sed 's/^→ */== package: hardened: /' || true
journalctl --sync
line=$(journalctl -u gatherd -o cat --no-pager | grep '^cgroups: ' | tail -n 1)
say "hardened: $line"
submit_as_alice pkg-hardened
rm -r /etc/systemd/system/gatherd.service.d
systemctl daemon-reload
systemctl restart gatherd
wait_active

say "dpkg --purge gatherd"
dpkg -L gatherd > /run/gatherd.files
dpkg --purge gatherd > /run/dpkg.log 2>&1 || { cat /run/dpkg.log >&2; fail "dpkg --purge failed"; }
check_gone /run/gatherd.files
say "no file of the package left ($(wc -l < /run/gatherd.files) paths checked), nor the spool, the unit's links or dpkg's records"

say "apt install ./$(basename "$deb")"
cp "$deb" /run/
(cd /run && DEBIAN_FRONTEND=noninteractive apt-get install -y "./$(basename "$deb")") > /run/apt.log 2>&1 \
  || { cat /run/apt.log >&2; fail "apt install ./$(basename "$deb") failed"; }
wait_active
expect "is-enabled after apt install" "$(systemctl is-enabled gatherd)" enabled
DEBIAN_FRONTEND=noninteractive apt-get purge -y gatherd > /run/apt.log 2>&1 || { cat /run/apt.log >&2; fail "apt purge failed"; }
check_gone /run/gatherd.files
say "apt install and apt purge: the same"

# make install from the project (already built on the host: the build is a
# no-op here), as the README's "Install" shows, then make uninstall.
project=${2:-}
if [ -n "$project" ] && [ ! -f "$project/Makefile" ]; then
  say "SKIPPED make install in the machine: the project ($project) is not on the root file system it sees (/tmp and /run are its own)"
elif [ -n "$project" ]; then
  say "make install (PREFIX=/usr/local) from $project"
  make --no-print-directory -C "$project" install > /run/make.log 2>&1 || { cat /run/make.log >&2; fail "make install failed"; }
  grep -E '^(systemctl|systemd-tmpfiles|journalctl|install:)' /run/make.log | sed 's/^/== package: make install: /'
  expect "the unit's ExecStart after make install" \
    "$(systemctl show -p ExecStart --value gatherd | sed -n 's/.*path=\([^ ;]*\).*/\1/p')" /usr/local/bin/gatherd
  expect "the spool made by make install" "$(stat -c '%F %a %U' $SPOOL)" "directory 755 root"
  catalog_has_gatherd || fail "make install did not update the catalog"
  systemctl --quiet enable --now gatherd
  wait_active
  chgrp jobs $SPOOL/incoming $SPOOL/cancel
  chmod 1730 $SPOOL/incoming $SPOOL/cancel
  submit_as_alice pkg-make-install
  page=$(man -w gatherd.job 2>&1 || true)
  case $page in /usr/local/*) ;; *) fail "man -w gatherd.job: $page (expected the page in /usr/local)" ;; esac
  make --no-print-directory -C "$project" uninstall > /run/make.log 2>&1 || { cat /run/make.log >&2; fail "make uninstall failed"; }
  left=$(find /usr/local /etc/systemd/system -name '*gatherd*' -o -name '*gatherctl*' | tr '\n' ' ')
  [ -z "$left" ] || fail "left after make uninstall: $left"
  expect "unit files after make uninstall" "$(systemctl list-unit-files --no-legend gatherd.service | wc -l)" 0
  say "make install, systemctl enable --now, make uninstall: nothing left in /usr/local or /etc/systemd/system"
fi
