"""Reads a /metrics body on stdin and checks it with prometheus_client's own
text parser (python3-prometheus-client), as a Prometheus client library
sees it, not as a string match would: every family is prefixed chat_ and
has the type it must have, and the histogram is a well-formed one.

Prints each sample as parsed, one per line, `name{label="value",...} value`
with labels sorted and whole numbers without a fraction, so the C test
(test_metrics.c) checks values as the parser read them. Exit status 1 with
the reasons on stderr when a check fails.

Run with Debian's /usr/bin/python3, where the package installs the module.
"""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

# Sample name -> the type of its family.
REQUIRED = {
    "chat_build_info": "gauge",
    "chat_connections": "gauge",
    "chat_rooms": "gauge",
    "chat_messages_total": "counter",
    "chat_deliveries_total": "counter",
    "chat_sent_bytes_total": "counter",
    "chat_closes_total": "counter",
    "chat_slow_consumer_disconnects_total": "counter",
    "chat_handshakes_rejected_total": "counter",
    "chat_history_commit_seconds_bucket": "histogram",
    "chat_history_commit_seconds_sum": "histogram",
    "chat_history_commit_seconds_count": "histogram",
    "chat_process_resident_memory_bytes": "gauge",
    "chat_process_open_fds": "gauge",
}


def number(v):
    return str(int(v)) if float(v).is_integer() else repr(v)


def check_histogram(samples, problems):
    buckets = [(s.labels["le"], s.value) for s in samples
               if s.name.endswith("_bucket")]
    count = [s.value for s in samples if s.name.endswith("_count")]
    if not buckets or buckets[-1][0] != "+Inf":
        problems.append("histogram: the last bucket is not le=\"+Inf\"")
        return
    bounds = [float(le) for le, _ in buckets]
    if bounds != sorted(bounds) or not math.isinf(bounds[-1]):
        problems.append("histogram: le bounds not ascending")
    values = [v for _, v in buckets]
    if values != sorted(values):
        problems.append("histogram: buckets not cumulative")
    if count != [buckets[-1][1]]:
        problems.append("histogram: _count %r differs from +Inf %r"
                        % (count, buckets[-1][1]))


def main():
    text = sys.stdin.read()
    problems = []
    seen = {}
    lines = []
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("chat_"):
            problems.append("family %s is not prefixed chat_" % family.name)
        if not family.documentation:
            problems.append("family %s has no HELP" % family.name)
        if family.type == "histogram":
            check_histogram(family.samples, problems)
        for s in family.samples:
            seen[s.name] = family.type
            labels = ",".join('%s="%s"' % (k, s.labels[k])
                              for k in sorted(s.labels))
            lines.append("%s%s %s" % (s.name,
                                      "{%s}" % labels if labels else "",
                                      number(s.value)))
    for name, kind in REQUIRED.items():
        if name not in seen:
            problems.append("no sample %s" % name)
        elif seen[name] != kind:
            problems.append("%s is a %s, not a %s" % (name, seen[name], kind))
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
