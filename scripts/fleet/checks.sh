#!/usr/bin/env bash
# checks.sh — runs inside the throw-away systemd machine that
# scripts/test-fleet.sh boots (never on a real host: it reconfigures
# systemd-journal-remote and systemd-journal-upload system-wide). /host holds
# gatherd.catalog and the host's openssl.cnf.
#
# Does what docs/fleet.md tells an administrator to do, with Debian's own
# units, the machine being both a fleet host and the collecting host (over
# 127.0.0.1 / localhost): a compound-error entry shaped like gatherd's (three
# GATHER_FAILURE fields) travels from the local journal through
# systemd-journal-upload.service to systemd-journal-remote (socket-activated),
# first over plain HTTP, then over HTTPS with a private CA; it is read back
# with `journalctl -D /var/log/journal/remote` by MESSAGE_ID and _HOSTNAME,
# and `-x` shows gatherd's catalog text once the catalog is installed; the
# document's nftables table lets the fleet's addresses through, no other.
set -euo pipefail
COMPOUND_ID=2567adab07a549029b2ad935f355fc66
REMOTE=/var/log/journal/remote

say() { printf '== fleet: %s\n' "$*"; }
fail() { printf 'fleet: FAILED: %s\n' "$*" >&2; exit 1; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

# Writes a compound-error entry of job $1 as gatherd does (fields, repeated
# GATHER_FAILURE), through logger's native journal protocol.
send_compound() {
  logger --journald <<END
MESSAGE=job $1 failed: CompoundError, 3 errors [dump: exited with status 1; upload: killed by signal SIGKILL; notify: could not start: No such file or directory (curl)]
MESSAGE_ID=$COMPOUND_ID
PRIORITY=3
SYSLOG_IDENTIFIER=gatherd
GATHER_JOB=$1
GATHER_JOB_NAME=$1
GATHER_RUN=1
GATHER_UID=0
GATHER_STATE=failed
GATHER_POLICY=collect-all
GATHER_ERROR_COUNT=3
GATHER_FAILURE=dump: exited with status 1
GATHER_FAILURE=upload: killed by signal SIGKILL
GATHER_FAILURE=notify: could not start: No such file or directory (curl)
END
}

# Waits (at most 20 s) until the collector's files hold job $1's compound error.
wait_remote() {
  local i=0
  until [ -n "$(journalctl -D $REMOTE -o cat --no-pager MESSAGE_ID=$COMPOUND_ID GATHER_JOB="$1" 2>/dev/null)" ]; do
    i=$((i+1))
    if [ $i -gt 200 ]; then
      systemctl status --no-pager systemd-journal-upload systemd-journal-remote.socket systemd-journal-remote >&2 || true
      journalctl --no-pager -n 30 -u systemd-journal-upload -u systemd-journal-remote >&2 || true
      fail "job $1's compound error did not reach $REMOTE in 20 s"
    fi
    sleep 0.1
  done
}

# Checks job $1's compound error as the collector stored it.
# GATHER_FAILURE compared sorted: journald lists repeated fields in the order
# their data sits in its file, not in the order sent.
check_remote() {
  local json
  json=$(journalctl -D $REMOTE -o json --no-pager MESSAGE_ID=$COMPOUND_ID _HOSTNAME="$(hostname)" GATHER_JOB="$1")
  expect "entries of $1 from $(hostname)" "$(printf '%s\n' "$json" | grep -c .)" 1
  expect "GATHER_FAILURE of $1" "$(printf '%s' "$json" | python3 -c 'import json,sys; print("|".join(sorted(json.load(sys.stdin)["GATHER_FAILURE"])))')" \
    "dump: exited with status 1|notify: could not start: No such file or directory (curl)|upload: killed by signal SIGKILL"
  expect "GATHER_ERROR_COUNT of $1" "$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GATHER_ERROR_COUNT"])')" 3
}

# --- the collecting host, plain HTTP (a trusted network) ------------------------
say "collector: systemd-journal-remote over plain HTTP on port 19532"
mkdir -p /etc/systemd/system/systemd-journal-remote.service.d
cat > /etc/systemd/system/systemd-journal-remote.service.d/http.conf <<'END'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-journal-remote --listen-http=-3 --output=/var/log/journal/remote/
END
systemctl daemon-reload
systemctl enable --now systemd-journal-remote.socket
expect "systemd-journal-remote.socket" "$(systemctl is-active systemd-journal-remote.socket)" active

# --- a fleet host -----------------------------------------------------------------
say "host: systemd-journal-upload to http://localhost:19532"
mkdir -p /etc/systemd/journal-upload.conf.d
printf '[Upload]\nURL=http://localhost:19532\n' > /etc/systemd/journal-upload.conf.d/fleet.conf
systemctl enable --now systemd-journal-upload.service
send_compound fleet-http
wait_remote fleet-http
check_remote fleet-http
ls $REMOTE
say "plain HTTP: the compound error arrived with its 3 GATHER_FAILURE fields"

# --- the catalog on the collecting host --------------------------------------------
install -D -m 0644 /host/gatherd.catalog /usr/local/lib/systemd/catalog/gatherd.catalog
journalctl --update-catalog
explained=$(journalctl -D $REMOTE -x --no-pager MESSAGE_ID=$COMPOUND_ID GATHER_JOB=fleet-http)
printf '%s\n' "$explained" | grep -q "Subject: gatherd job fleet-http failed" \
  || fail "journalctl -x shows no catalog text: $explained"
say "catalog: journalctl -D $REMOTE -x explains the entry"

# --- HTTPS with a private CA -----------------------------------------------------
# As docs/fleet.md: a CA, a certificate for the collector's name (here
# localhost), one for the host; private keys stay root's (0600) and reach the
# services, which run as other users, through LoadCredential=.
say "HTTPS: a private CA, the collector's and the host's certificates"
# The machine's /etc started empty: what Debian's openssl package puts there.
mkdir -p /etc/ssl/private /etc/ssl/certs
chmod 0700 /etc/ssl/private
cp /host/openssl.cnf /etc/ssl/openssl.cnf
work=$(mktemp -d)
cd "$work"
openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=gatherd fleet CA" \
  -keyout fleet-ca.key -out fleet-ca.pem 2>/dev/null
cert() { # NAME CN SAN
  openssl req -newkey rsa:3072 -nodes -subj "/CN=$2" -addext "subjectAltName=$3" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA fleet-ca.pem -CAkey fleet-ca.key -CAcreateserial \
    -days 825 -copy_extensions copy -out "$1.pem" 2>/dev/null
}
cert journal-remote localhost DNS:localhost
cert journal-upload "$(hostname)" "DNS:$(hostname)"
install -m 0600 journal-remote.key journal-upload.key /etc/ssl/private/
install -m 0644 journal-remote.pem journal-upload.pem fleet-ca.pem /etc/ssl/certs/
cd /
rm -rf "$work"

# The collector: back to the package's ExecStart (--listen-https=-3).
rm /etc/systemd/system/systemd-journal-remote.service.d/http.conf
cat > /etc/systemd/system/systemd-journal-remote.service.d/credentials.conf <<'END'
[Service]
LoadCredential=journal-remote.key:/etc/ssl/private/journal-remote.key
END
mkdir -p /etc/systemd/journal-remote.conf.d
cat > /etc/systemd/journal-remote.conf.d/fleet.conf <<'END'
[Remote]
ServerKeyFile=/run/credentials/systemd-journal-remote.service/journal-remote.key
ServerCertificateFile=/etc/ssl/certs/journal-remote.pem
END
# The host.
mkdir -p /etc/systemd/system/systemd-journal-upload.service.d
cat > /etc/systemd/system/systemd-journal-upload.service.d/credentials.conf <<'END'
[Service]
LoadCredential=journal-upload.key:/etc/ssl/private/journal-upload.key
END
cat > /etc/systemd/journal-upload.conf.d/fleet.conf <<'END'
[Upload]
URL=https://localhost:19532
ServerKeyFile=/run/credentials/systemd-journal-upload.service/journal-upload.key
ServerCertificateFile=/etc/ssl/certs/journal-upload.pem
TrustedCertificateFile=/etc/ssl/certs/fleet-ca.pem
END
systemctl daemon-reload
systemctl stop systemd-journal-remote.service
systemctl restart systemd-journal-remote.socket systemd-journal-upload.service
send_compound fleet-https
wait_remote fleet-https
check_remote fleet-https
say "HTTPS: the compound error arrived with its 3 GATHER_FAILURE fields"

# The host checks the collector's certificate: against another CA the upload
# fails (run by hand, the configuration file aside: it names a URL too).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=another CA" \
  -keyout /tmp/other-ca.key -out /tmp/other-ca.pem 2>/dev/null
mv /etc/systemd/journal-upload.conf.d/fleet.conf /tmp/fleet.conf
if refused=$(timeout 20 /lib/systemd/systemd-journal-upload --url=https://localhost:19532 --follow=no \
      --trust=/tmp/other-ca.pem --key=/etc/ssl/private/journal-upload.key \
      --cert=/etc/ssl/certs/journal-upload.pem 2>&1); then
  fail "an upload that trusts another CA succeeded: $refused"
fi
mv /tmp/fleet.conf /etc/systemd/journal-upload.conf.d/fleet.conf
printf '%s\n' "$refused" | grep -qi "certificate" || fail "the upload failed, but not for the certificate: $refused"
say "HTTPS: an upload trusting another CA is refused ($(printf '%s' "$refused" | tail -1))"

# Debian 12 builds systemd-journal-remote without GnuTLS: it cannot check the
# hosts' certificates, and says so (docs/fleet.md relies on a firewall instead).
journalctl -u systemd-journal-remote --no-pager -o cat | grep -q "Certificate checking disabled" \
  || fail "systemd-journal-remote did not log 'Certificate checking disabled': docs/fleet.md's TLS notes are out of date"
say "HTTPS: the collector does not check the hosts' certificates (Certificate checking disabled.)"

# journalctl -m (--merge) includes the collected files too.
[ -n "$(journalctl -m -o cat --no-pager MESSAGE_ID=$COMPOUND_ID GATHER_JOB=fleet-https)" ] \
  || fail "journalctl -m does not show the collected entries"
say "journalctl -m shows the collected entries too"

# The firewall of docs/fleet.md, in the machine's own network namespace
# (--private-network): the fleet's addresses pass, others are dropped.
if ! command -v nft >/dev/null; then
  say "SKIPPED the firewall part: nft missing (apt-get install nftables)"
  exit 0
fi
firewall() { # the allowed IPv4 network
  cat > /etc/nftables.conf <<END
table inet journal_remote {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 19532 ip saddr { $1 } accept
        tcp dport 19532 ip6 saddr { 2001:db8::/64 } accept
        tcp dport 19532 drop
    }
}
END
  nft -c -f /etc/nftables.conf
  nft delete table inet journal_remote 2>/dev/null || true
  nft -f /etc/nftables.conf
}
firewall 127.0.0.0/8
send_compound fleet-allowed
wait_remote fleet-allowed
firewall 192.0.2.0/24
send_compound fleet-dropped
sleep 3
[ -z "$(journalctl -D $REMOTE -o cat --no-pager GATHER_JOB=fleet-dropped)" ] \
  || fail "an entry from an address the firewall drops reached the collector"
say "firewall: entries from an allowed address arrive, from others not"
# Allowed again, the held-back entry arrives (the uploader retries its
# connection; nothing is lost), and the machine can power off quickly.
nft delete table inet journal_remote
wait_remote fleet-dropped
say "firewall: once allowed, the held-back entry arrives"
