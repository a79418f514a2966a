#!/usr/bin/env bash
# Regenerates the manual pages:
#   docs/gatherd.job.5  from the job-key table (Sources/GatherSpool/JobKeys.swift);
#   docs/gatherd.8, docs/gatherctl.1  from the command-line definitions
#     (GatherdCommand, GatherCtlCommand), as the built binaries describe them
#     with --experimental-dump-help.
# Run it after changing a key, a flag or a help text, and commit the pages
# with the change.
#
# There is no generator program: the tests that keep the committed pages equal
# to what the code renders write the pages first when GATHER_WRITE_DOCS=1 is
# set, so each page is made by the same code that checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
GATHER_WRITE_DOCS=1 swift test --filter 'JobKeyTableTests/theCommittedManualIsTheRenderedTable|ManualPageTests/theCommittedPageIsWhatTheParserDescribes'
echo "generate-docs: wrote docs/gatherd.job.5 docs/gatherd.8 docs/gatherctl.1"
