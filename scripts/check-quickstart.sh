#!/usr/bin/env bash
# check-quickstart.sh — runs the README's quick start command
# (scripts/quickstart.sh) and checks that what it prints matches the output
# the README shows, allowing for what differs from run to run:
#   - times, PIDs, build times, job durations and the checkout's folder;
#   - the output of the `df` and `uptime` example tasks;
#   - the order of lines that concurrent jobs write (the journal and the
#     compound-error sections are compared as sets of blocks, every other
#     section line by line);
#   - the "Starting a journald" section, shown only when none was running.
# The README shows a run as root with a journal; not as root this says why
# and checks only that the quick start succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp)
trap 'rm -f "$out"' EXIT
scripts/quickstart.sh >"$out" 2>&1 || { cat "$out"; echo "check-quickstart: the quick start failed" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
  echo "check-quickstart: skipped the comparison with the README: its output is a run as root with a journal (uid $(id -u))"
  exit 0
fi

python3 - README.md "$out" <<'PY'
import difflib, re, sys
from collections import Counter

readme_path, run_path = sys.argv[1], sys.argv[2]

def readme_block(text):
    """The indented block after 'What the quick start prints', up to the next heading."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("What the quick start prints"))
    block = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("    ") or not line.strip():
            block.append(line[4:])
    return block

# gatherd's own entries read `gatherd[PID]: …`, task output lines `ID/TASK[PID]: …`.
JOURNAL = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (gatherd|[\w.-]+/[\w.-]+)\[\d+\]: (.*)$")

def normalise(line):
    m = JOURNAL.match(line)
    if m:
        identifier, message = m.group(1), m.group(2)
        if "load average" in message:
            message = "<uptime output>"
        elif re.fullmatch(r"\S+\s+\S+\s+\S+\s+\S+\s+\d+%\s+/", message):
            message = "<df output>"
        message = re.sub(r"spool /\S*/\.quickstart/spool", "spool <dir>/.quickstart/spool", message)
        # What the host gives (docs/cgroups.md): differs from machine to machine.
        message = re.sub(r"^cgroups: .*$", "cgroups: <what this host gives>", message)
        message = re.sub(r" in [\d.]+(ms|s)$", " in <duration>", message)
        return f"<time> {identifier}[<pid>]: " + message
    line = re.sub(r"\(pid \d+\)", "(pid <pid>)", line)
    line = re.sub(r"_PID=\d+", "_PID=<pid>", line)
    return line.rstrip()

def sections(lines):
    """[(heading, [lines])] split at '== ' headings; blank lines dropped."""
    result = []
    for line in lines:
        if line.startswith("== "):
            result.append((normalise(line), []))
        elif line.strip() and result:
            result[-1][1].append(normalise(line))
    return result

def blocks(lines):
    """Lines grouped as a line and the indented lines under it, sorted."""
    grouped = []
    for line in lines:
        if line.startswith(" ") and grouped:
            grouped[-1] += "\n" + line
        else:
            grouped.append(line)
    return Counter(grouped)

expected = sections(readme_block(open(readme_path, encoding="utf-8").read()))
actual = [s for s in sections(open(run_path, encoding="utf-8").read().splitlines())
          if not s[0].startswith("== Starting a journald")]

problems = []
if [h for h, _ in expected] != [h for h, _ in actual]:
    problems.append("headings differ:\n  README: %s\n  run:    %s" % (
        [h for h, _ in expected], [h for h, _ in actual]))
for (heading, want), (_, got) in zip(expected, actual):
    if heading.startswith("== Building"):
        # Compiler progress varies with what was built before; the product must be made.
        if not any(l.startswith("Build of product 'gatherd' complete!") for l in got):
            problems.append(f"{heading}: no 'Build of product' line")
    elif heading.startswith(("== What gatherd logged", "== Compound errors")):
        if blocks(want) != blocks(got):
            missing = blocks(want) - blocks(got)
            extra = blocks(got) - blocks(want)
            problems.append(f"{heading}:\n  in the README only: {sorted(missing)}\n  in the run only: {sorted(extra)}")
    elif want != got:
        diff = difflib.unified_diff(want, got, "README", "run", lineterm="", n=1)
        problems.append(f"{heading}:\n" + "\n".join(diff))

if problems:
    print(open(run_path, encoding="utf-8").read())
    print("check-quickstart: the quick start's output differs from the README:", file=sys.stderr)
    for p in problems:
        print(p, file=sys.stderr)
    sys.exit(1)
print(f"check-quickstart: the quick start printed what the README shows "
      f"({len(actual)} sections, {sum(len(l) for _, l in actual)} lines, times and IDs aside)")
PY
