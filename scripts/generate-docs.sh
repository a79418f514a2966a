#!/usr/bin/env bash
# Regenerates docs/gatherd.job.5, the job file's manual page, from the job-key
# table (Sources/GatherSpool/JobKeys.swift). Run it after changing a row and
# commit the page with the change.
#
# There is no generator program: the test that keeps the committed page equal
# to JobKeyTable.manual() writes the page first when GATHER_WRITE_DOCS=1 is
# set, so the page is made by the same code that checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
GATHER_WRITE_DOCS=1 swift test --filter 'JobKeyTableTests/theCommittedManualIsTheRenderedTable'
echo "generate-docs: wrote docs/gatherd.job.5"
