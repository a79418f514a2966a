#!/usr/bin/python3
"""Reads gatherd's --metrics-file with prometheus_client's text parser.

  metrics_check.py values FILE        print every sample as JSON: {"name{k=v}": value}
  metrics_check.py watch FILE STOP    parse FILE over and over until STOP exists;
                                      exit 1 at the first read that does not parse or
                                      lacks a family (a half-written file); print the
                                      number of reads and of distinct contents seen
Exit 3 when prometheus_client cannot be imported (the caller skips, saying why).
"""
import json
import os
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as error:
    print(f"cannot import prometheus_client ({error}); apt-get install python3-prometheus-client")
    sys.exit(3)

FAMILIES = {
    "gatherd_jobs": "counter", "gatherd_tasks": "counter", "gatherd_jobs_running": "gauge",
    "gatherd_tasks_running": "gauge", "gatherd_jobs_queued": "gauge", "gatherd_incoming_files": "gauge",
    "gatherd_spool_write_errors": "counter", "gatherd_last_failure_timestamp_seconds": "gauge",
    "gatherd_claim_seconds": "histogram", "gatherd_paused": "gauge",
}


def parse(text):
    """The samples by name and labels; raises ValueError on anything wrong."""
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, kind in FAMILIES.items():
        if name not in families:
            raise ValueError(f"family {name} missing")
        if families[name].type != kind:
            raise ValueError(f"family {name} is a {families[name].type}, not a {kind}")
    samples = {}
    for family in families.values():
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    # The histogram's last line: a file cut short has lost it.
    if "gatherd_claim_seconds_count" not in samples:
        raise ValueError("gatherd_claim_seconds_count missing")
    if samples["gatherd_claim_seconds_bucket{le=+Inf}"] != samples["gatherd_claim_seconds_count"]:
        raise ValueError("+Inf bucket differs from the count")
    return samples


def main():
    if sys.argv[1] == "values":
        with open(sys.argv[2]) as file:
            print(json.dumps(parse(file.read())))
        return 0
    path, stop = sys.argv[2], sys.argv[3]
    reads, contents = 0, set()
    while not os.path.exists(stop):
        try:
            with open(path) as file:
                text = file.read()
        except FileNotFoundError:
            continue  # not written yet
        reads += 1
        try:
            parse(text)
        except Exception as error:  # the parser raises ValueError and others
            print(f"read {reads}: {error}\n{text}")
            return 1
        contents.add(text)
    print(json.dumps({"reads": reads, "versions": len(contents)}))
    return 0


sys.exit(main())
