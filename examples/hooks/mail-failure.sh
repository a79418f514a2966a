#!/bin/sh
# Mails a failed gatherd job's compound error through sendmail (see the README, "Being told when a job fails: hooks").
# As a job's hook:   "on_failure": ["/usr/local/libexec/gatherd-mail-failure", "alice@example.org"]
# As gatherd's own:  gatherd --on-failure '/usr/local/libexec/gatherd-mail-failure root'
# gatherd gives it GATHER_JOB, GATHER_STATE, GATHER_ERROR (the compound error
# line) and GATHER_RECORD (the path of result.json, already in failed/).
set -eu
to=${1:-root}
{
    printf 'To: %s\n' "$to"
    printf 'Subject: gatherd job %s %s\n\n' "$GATHER_JOB" "$GATHER_STATE"
    printf '%s\n\n' "${GATHER_ERROR:-no error line}"
    printf 'Record: %s\n' "$GATHER_RECORD"
    printf 'Details: gatherctl show %s; journalctl GATHER_JOB=%s\n' "$GATHER_JOB" "$GATHER_JOB"
} | /usr/sbin/sendmail -t
