#!/usr/bin/env python3
"""Tabulates the load generator's JSON lines into build/bench/results.md.

Medians over repetitions; ratios to the ceiling servers are taken per
repetition (peers of one repetition ran back to back) and their median is
shown, which keeps a noisy machine's drift out of the comparison. The
targets of issue 12 get a pass/fail each; chatd-cluster (issue 13) gets
a table of its own beside chatd-mem. Runs where the load generator
used over 90% of its CPU are flagged: their figures may be its limit, not
the server's. Results of older runs, without some fields, show n/a.
Standard library only.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

PEER_NOTES = {
    "chatd-mem": "chatd --db :memory:",
    "chatd-cluster": "two chatd --db :memory: --redis on one redis-server",
    "chatd-file": "chatd --db FILE",
    "chatd-sio": "chatd --db :memory: in its socket.io dialect "
                 "(/socket.io/, websocket transport)",
    "socketio": "socket.io 4 chat (node)",
    "lws-mirror": "libwebsockets-test-server, lws-mirror-protocol",
    "ceiling-send": "C ceiling, one send() per delivery",
    "ceiling-cork": "C ceiling, one write per client per turn",
}
CHATD = "chatd-mem"
CLUSTER = "chatd-cluster"
CORK = "ceiling-cork"
SEND = "ceiling-send"
# The load generator is one thread pinned to one CPU: past this share of
# it over a run's measured phase, the run may have measured the load
# generator rather than the server.
LG_LIMIT = 0.90
SCENARIOS = ["S1", "S2", "S3", "S4", "sweep-S2", "sweep-S3"]


def lg_share(r):
    """The load generator's CPU share of a run (a sweep's busiest step),
    or None for runs recorded before it was measured."""
    v = r.get("loadgen_cpu_share_max", r.get("loadgen_cpu_share"))
    return v if isinstance(v, (int, float)) and v >= 0 else None


def lg_over(r):
    v = lg_share(r)
    return v is not None and v > LG_LIMIT


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append({"ok": False, "error": "unparsable: " + line[:80]})
    return rows


class Results:
    def __init__(self, rows):
        self.by = {}
        for r in rows:
            self.by.setdefault((r.get("peer"), r.get("scenario")), []).append(r)

    def runs(self, peer, sc):
        return [r for r in self.by.get((peer, sc), []) if r.get("ok")]

    def error(self, peer, sc):
        for r in self.by.get((peer, sc), []):
            if not r.get("ok"):
                return r.get("error", "failed")
        return None

    def values(self, peer, sc, key):
        return [r[key] for r in self.runs(peer, sc)
                if isinstance(r.get(key), (int, float)) and r[key] >= 0]

    def med(self, peer, sc, key):
        v = self.values(peer, sc, key)
        return statistics.median(v) if v else None

    def lg_flagged(self, peer, sc):
        """Runs of peer in sc where the load generator was over the limit."""
        return [r for r in self.runs(peer, sc) if lg_over(r)]

    def lg_med(self, peer, sc):
        v = [x for x in map(lg_share, self.runs(peer, sc)) if x is not None]
        return statistics.median(v) if v else None

    def ratio(self, peer, other, sc, key):
        """Median over repetitions of peer/other, pairing equal reps."""
        a = {r["rep"]: r.get(key) for r in self.runs(peer, sc)}
        b = {r["rep"]: r.get(key) for r in self.runs(other, sc)}
        q = [a[k] / b[k] for k in a if k in b and a[k] is not None
             and b[k] not in (None, 0) and a[k] >= 0 and b[k] > 0]
        return statistics.median(q) if q else None


def num(v, fmt="{:,.0f}", none="n/a"):
    return none if v is None else fmt.format(v)


def ratio(v):
    return "n/a" if v is None else "{:.2f}x".format(v)


LG_MARK = " (lg>90%)"


def cell(res, peer, sc, text):
    """The text, or why the scenario has no figure for this peer; marked
    when a run behind it had the load generator over its limit."""
    if res.runs(peer, sc):
        return text + (LG_MARK if res.lg_flagged(peer, sc) else "")
    err = res.error(peer, sc)
    return "not run" if err is None else "failed: " + err.replace("|", "/")[:60]


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "{:.0f} GiB".format(kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    deb = ""
    try:
        with open("/etc/debian_version") as f:
            deb = "Debian " + f.read().strip() + ", "
    except OSError:
        pass
    return "{} x {}, {} RAM, {}Linux {}".format(
        os.cpu_count(), cpu, mem, deb, platform.release())


def targets(res):
    t = []

    def add(name, measured, ok, note="", scs=(), peers=(CHATD, CORK)):
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        # A figure from a run the load generator saturated is suspect.
        if any(res.lg_flagged(p, sc) for p in peers for sc in scs):
            note = (note + " " if note else "") + "(load generator over " \
                "90% CPU in a run behind it)"
        t.append((name, measured, verdict + (" " + note if note else "")))

    def ms(v):
        return "n/a" if v is None else "{:,.2f} ms".format(v / 1e3)

    def vs(r, peer, other, sc, key, fmt):
        """ratio (peer's median vs other's median)"""
        return "{} ({} vs {})".format(ratio(r), fmt(res.med(peer, sc, key)),
                                      fmt(res.med(other, sc, key)))

    r = res.ratio(CHATD, CORK, "S2", "deliveries_per_s")
    add("S2 deliveries/s >= 0.9x ceiling-cork (window 32)",
        vs(r, CHATD, CORK, "S2", "deliveries_per_s", num),
        None if r is None else r >= 0.9, scs=["S2"])
    r = res.ratio(CHATD, CORK, "S2", "p50_us")
    add("S2 p50 latency <= 1.5x ceiling-cork's",
        vs(r, CHATD, CORK, "S2", "p50_us", ms),
        None if r is None else r <= 1.5, scs=["S2"])
    r = res.ratio("chatd-file", CHATD, "S2", "deliveries_per_s")
    add("S2 with --db FILE >= 0.8x --db :memory:",
        vs(r, "chatd-file", CHATD, "S2", "deliveries_per_s", num),
        None if r is None else r >= 0.8, scs=["S2"],
        peers=("chatd-file", CHATD))

    runs = res.runs(CHATD, "S3")
    if runs:
        lost = sum(x["lost"] for x in runs)
        dup = sum(x["dup"] for x in runs)
        short = sum(x["expected"] - x["delivered"] for x in runs
                    if x["delivered"] < x["expected"])
        add("S3 every message delivered, no gaps or duplicates",
            "{} lost, {} dup, {} missing over {} reps".format(
                lost, dup, short, len(runs)),
            lost == 0 and dup == 0 and short == 0, scs=["S3"],
            peers=(CHATD,))
    else:
        add("S3 every message delivered, no gaps or duplicates",
            res.error(CHATD, "S3") or "not run", None)
    r = res.ratio(CHATD, CORK, "S3", "p99_us")
    add("S3 p99 <= 1.5x ceiling-cork's", vs(r, CHATD, CORK, "S3", "p99_us", ms),
        None if r is None else r <= 1.5, scs=["S3"])

    for shape in ("S2", "S3"):
        sc = "sweep-" + shape
        r = res.ratio(CHATD, CORK, sc, "sustainable_deliveries_per_s")
        note = ""
        # A sweep that never failed a step ran out of steps: its rate is
        # only a lower bound, and so is a ratio over it (or an upper bound
        # when it is the ceiling's).
        bound = [p for p in (CHATD, CORK) if res.runs(p, sc)
                 and not res.runs(p, sc)[0].get("first_failing_rate")]
        if r is not None and bound:
            note = "(no failing step for {}: a bound only)".format(
                " and ".join(bound))
        add("Sustainable rate, {} shape, >= 0.8x ceiling-cork".format(shape),
            vs(r, CHATD, CORK, sc, "sustainable_deliveries_per_s",
               lambda v: num(v) + "/s" if v is not None else "n/a"),
            None if r is None else r >= 0.8, note, scs=[sc])

    r = res.ratio(CHATD, CORK, "S2", "server_cpu_ns_per_delivery")
    add("S2 server CPU per delivery <= 1.5x ceiling-cork's",
        vs(r, CHATD, CORK, "S2", "server_cpu_ns_per_delivery",
           lambda v: num(v) + " ns" if v is not None else "n/a"),
        None if r is None else r <= 1.5, scs=["S2"])

    v = res.med(CHATD, "S4", "rss_per_conn_kib")
    add("S4 <= 2 KiB server RSS per idle connection",
        num(v, "{:.2f} KiB"), None if v is None else v <= 2.0)
    runs = res.runs(CHATD, "S4")
    if runs:
        x = runs[0]
        add("S4 10,000 connections in <= 1 s, none failed",
            "{:,} in {:,.0f} ms, {} failed, {} still pending".format(
                x["connected"], x["connect_ms"], x["failed"],
                x.get("pending", 0)),
            x["failed"] == 0 and x["connected"] >= 10000
            and x["still_open"] >= 10000 and x["connect_ms"] <= 1000,
            scs=["S4"], peers=(CHATD,))
    else:
        add("S4 10,000 connections in <= 1 s, none failed",
            res.error(CHATD, "S4") or "not run", None)
    r = res.ratio(CHATD, CORK, "S1", "p50_us")
    add("S1 echo p50 <= 1.3x ceiling-cork's",
        vs(r, CHATD, CORK, "S1", "p50_us", ms),
        None if r is None else r <= 1.3, scs=["S1"])

    # Kept from issue 3 for information, when those peers ran.
    for peer, name, k in (("socketio", "socket.io", 10),
                          ("lws-mirror", "lws mirror", 5)):
        if not res.by.get((peer, "S2")):
            continue
        r = res.ratio(CHATD, peer, "S2", "deliveries_per_s")
        add("S2 deliveries/s >= {}x {} (informational)".format(k, name),
            ratio(r), None if r is None else r >= k, scs=["S2"],
            peers=(CHATD, peer))
    return t


def cluster_table(res, w):
    """chatd-cluster beside chatd-mem in the scenarios it runs."""
    w("## Cluster mode (issue 13; medians)")
    w("")
    w("chatd-cluster is a redis-server and two chatd instances on it, all "
      "three pinned to the one server CPU, so it is compared with chatd-mem "
      "per server CPU, not per machine; its server CPU is the three "
      "processes' sum. The publishers connect to instance a, the "
      "subscribers alternate between a and b; every message makes one "
      "round trip to Redis (a script: INCR, XADD, PUBLISH) and comes back "
      "to both instances through the subscription. Redis figures come from "
      "both instances' /metrics after the run: the publish script's mean "
      "round trip, and Redis commands per message sent.")
    w("")
    w("| scenario | peer | deliveries/s | x chatd-mem | p50 / p99 (ms) "
      "| server CPU ns/delivery | Redis publish round trip, mean (us) "
      "| Redis round trips per message | delivered / expected "
      "| lost / dup | warnings logged |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")

    def ms(v):
        return "n/a" if v is None else "{:,.2f}".format(v / 1e3)
    for sc in ("S2", "S3"):
        for p in (CHATD, CLUSTER):
            runs = res.runs(p, sc)
            if not runs:
                w("| {} | {} | {} |{}".format(sc, p, cell(res, p, sc, ""),
                                              " |" * 8))
                continue
            redis = p == CLUSTER
            w("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |"
              .format(
                  sc, p,
                  cell(res, p, sc, num(res.med(p, sc, "deliveries_per_s"))),
                  ratio(res.ratio(p, CHATD, sc, "deliveries_per_s")),
                  "{} / {}".format(ms(res.med(p, sc, "p50_us")),
                                   ms(res.med(p, sc, "p99_us"))),
                  num(res.med(p, sc, "server_cpu_ns_per_delivery")),
                  num(res.med(p, sc, "redis_publish_mean_us"), "{:,.0f}")
                  if redis else "-",
                  num(res.med(p, sc, "redis_round_trips_per_msg"),
                      "{:.2f}") if redis else "-",
                  "{:,} / {:,}".format(sum(x["delivered"] for x in runs),
                                       sum(x["expected"] for x in runs)),
                  "{:,} / {:,}".format(sum(x["lost"] for x in runs),
                                       sum(x["dup"] for x in runs)),
                  num(sum(x.get("server_log_warnings", 0) for x in runs))
                  if redis else "-"))
    w("")


def report(res, a):
    peers = a.peers.split()
    out = []
    w = out.append
    w("# chatd benchmark results")
    w("")
    w("- when: {}; {} run, {} repetition(s), {} s in all".format(
        time.strftime("%Y-%m-%d %H:%M %Z"), "quick" if a.quick == "1"
        else "full", a.reps, a.secs))
    w("- machine: " + machine())
    w("- load average at start / end: {} / {} (other work on the machine "
      "makes figures noisy; compare ratios within this run)".format(
          a.load_start, a.load_end))
    w("- chatd: {} (taken at the start of the run); servers pinned to "
      "CPU 0, load generator to CPU 1".format(a.commit or "?"))
    w("")
    w("## Latency and throughput (medians; ratios are per-repetition "
      "medians)")
    w("")
    w("| peer | S1 echo p50 / p99 (us) | S1 p50 x cork | S2 deliveries/s "
      "| S2 x cork | S2 x send | S2 server CPU ns/delivery | S2 frame bytes "
      "| S3 delivered / expected | S3 p50 / p99 / max (ms) | S3 p99 x cork |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for p in peers:
        s1 = cell(res, p, "S1", "{} / {}".format(
            num(res.med(p, "S1", "p50_us"), "{:,.0f}"),
            num(res.med(p, "S1", "p99_us"), "{:,.0f}")))
        s2 = cell(res, p, "S2", num(res.med(p, "S2", "deliveries_per_s")))
        s3runs = res.runs(p, "S3")
        if s3runs:
            dl = sum(x["delivered"] for x in s3runs)
            ex = sum(x["expected"] for x in s3runs)
            lost = sum(x["lost"] for x in s3runs)
            s3d = "{:,} / {:,}{}".format(dl, ex, " ({:,} lost)".format(lost)
                                          if lost else "")
        else:
            s3d = cell(res, p, "S3", "")

        def ms(k):
            v = res.med(p, "S3", k)
            return "n/a" if v is None else "{:,.1f}".format(v / 1e3)
        s3l = cell(res, p, "S3", "{} / {} / {}".format(
            ms("p50_us"), ms("p99_us"), ms("max_us")))
        w("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            p, s1, ratio(res.ratio(p, CORK, "S1", "p50_us")), s2,
            ratio(res.ratio(p, CORK, "S2", "deliveries_per_s")),
            ratio(res.ratio(p, SEND, "S2", "deliveries_per_s")),
            num(res.med(p, "S2", "server_cpu_ns_per_delivery")),
            num(res.med(p, "S2", "frame_bytes_mean"), "{:,.0f}"),
            s3d, s3l, ratio(res.ratio(p, CORK, "S3", "p99_us"))))
    w("")
    if CLUSTER in peers:
        cluster_table(res, w)
    w("## Capacity (one run each)")
    w("")
    w("| peer | S4 10k idle: connect ms | S4 failed / pending "
      "| S4 KiB per conn "
      "| sweep S2: sustainable deliveries/s | x cork "
      "| sweep S3: sustainable deliveries/s | x cork |")
    w("|---|---|---|---|---|---|---|---|")

    def sweep(p, sc):
        runs = res.runs(p, sc)
        if not runs:
            return cell(res, p, sc, ""), None
        v = runs[0].get("sustainable_deliveries_per_s", 0)
        if not v:
            return "< first step", None
        c = res.runs(CORK, sc)
        cv = c[0].get("sustainable_deliveries_per_s") if c else None
        # No step failed: the sweep ran out of steps, a lower bound.
        bound = ">= " if not runs[0].get("first_failing_rate") else ""
        return cell(res, p, sc, bound + num(v)), (v / cv if cv else None)

    for p in peers:
        runs = res.runs(p, "S4")
        if runs:
            x = runs[0]
            s4 = [cell(res, p, "S4", "{:,.0f}{}".format(
                x["connect_ms"], "" if x["settled"] else " (never settled)")),
                  "{:,} / {:,}".format(x["failed"], x.get("pending", 0)),
                  "{:.2f}".format(x["rss_per_conn_kib"])]
        else:
            s4 = [cell(res, p, "S4", ""), "", ""]
        s2, r2 = sweep(p, "sweep-S2")
        s3, r3 = sweep(p, "sweep-S3")
        w("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            p, *s4, s2, ratio(r2), s3, ratio(r3)))
    w("")
    w("## Interference (share of each run's time the server / the load "
      "generator was runnable but waiting for a CPU; medians)")
    w("")
    w("| peer | S1 | S2 | S3 |")
    w("|---|---|---|---|")

    def waits(p, sc):
        sv, lv = [], []
        for x in res.runs(p, sc):
            secs = x.get("secs") or 0
            if secs > 0 and x.get("server_run_delay_s", -1) >= 0:
                sv.append(100 * x["server_run_delay_s"] / secs)
                lv.append(100 * x.get("loadgen_run_delay_s", 0) / secs)
        if not sv:
            return "n/a"
        return "{:.0f}% / {:.0f}%".format(statistics.median(sv),
                                          statistics.median(lv))
    for p in peers:
        w("| {} | {} | {} | {} |".format(p, waits(p, "S1"), waits(p, "S2"),
                                         waits(p, "S3")))
    w("")
    if CLUSTER in peers:
        w("chatd-cluster's server figure adds up its three processes, "
          "which also wait for each other on their one CPU.")
        w("")
    w("## Load generator CPU (its share of the one CPU it is pinned to, "
      "over each run's measured phase; medians; sweeps: the busiest step)")
    w("")
    w("| peer | " + " | ".join(SCENARIOS) + " |")
    w("|---" * (len(SCENARIOS) + 1) + "|")

    def lgcell(p, sc):
        v = res.lg_med(p, sc)
        if v is None:
            return "n/a"
        return "{:.0f}%".format(100 * v) + (
            LG_MARK if res.lg_flagged(p, sc) else "")
    for p in peers:
        w("| {} | {} |".format(p, " | ".join(lgcell(p, sc)
                                             for sc in SCENARIOS)))
    w("")
    over = ["{} {} rep {} ({:.0f}%)".format(sc, p, r.get("rep", "?"),
                                           100 * lg_share(r))
            for sc in SCENARIOS for p in peers for r in res.lg_flagged(p, sc)]
    if over:
        w("**loadgen over 90% CPU in: {}** — those runs' figures may be the "
          "load generator's limit, not the server's (marked {} in the "
          "tables).".format(", ".join(over), LG_MARK.strip()))
    elif any(lg_share(r) is not None for rs in res.by.values() for r in rs):
        w("No run had the load generator over 90% of its CPU.")
    else:
        w("Not measured in these results (recorded before the load "
          "generator reported its CPU use).")
    w("")
    w("## Targets (issue 12; chatd --db :memory: unless named)")
    w("")
    w("| target | measured | result |")
    w("|---|---|---|")
    for name, m, v in targets(res):
        w("| {} | {} | {} |".format(name, m, v))
    w("")
    w("Peers: " + "; ".join("{} = {}".format(p, PEER_NOTES.get(p, p))
                            for p in peers) + ".")
    w("S1: 1 client echoing 1,000 msgs at 1,000/s. S2: 100 subscribers + "
      "1 publisher, window 32 (closed loop). S3: 1,000 subscribers + 10 "
      "publishers at 20 msg/s each, open loop. S4: 10,000 idle "
      "connections. Sweeps: open loop, rate doubled then bisected until "
      "something is lost or p99 > 100 ms. Publishers receive too, so a "
      "message has subscribers + publishers deliveries. chatd is sent "
      "48-byte texts and wraps each in a frame of about 140 bytes (type, "
      "room, id, nick, ts); the other servers are sent texts that make "
      "frames of that size (S2 frame bytes), so every peer writes the "
      "same bytes per delivery. Raw JSON lines: "
      "results.jsonl.")
    return "\n".join(out) + "\n"


def brief(line):
    r = json.loads(line)
    if not r.get("ok"):
        return "error: " + r.get("error", "?")
    sc = r.get("scenario", "")
    v = lg_share(r)
    lg = ", loadgen CPU {}{}".format(
        "n/a" if v is None else "{:.0f}%".format(100 * v),
        "" if v is None else " (busiest step)" if sc.startswith("sweep")
        else "")
    if lg_over(r):
        lg += " -- OVER 90%: may be the load generator's limit"
    if sc == "S4":
        return "{connected} connected in {connect_ms:.0f} ms, " \
               "{rss_per_conn_kib:.2f} KiB/conn".format(**r) + lg
    if sc.startswith("sweep"):
        return "sustainable {:,.0f} deliveries/s".format(
            r.get("sustainable_deliveries_per_s", 0)) + lg
    redis = ""
    if "redis_publish_mean_us" in r:
        redis = ", Redis publish {:.0f} us".format(r["redis_publish_mean_us"])
    return "{:,.0f} deliveries/s, p50 {:.0f} us, p99 {:.0f} us, lost {}" \
        .format(r["deliveries_per_s"], r["p50_us"], r["p99_us"],
                r["lost"]) + redis + lg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brief", action="store_true")
    ap.add_argument("--raw")
    ap.add_argument("--out")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--reps", default="?")
    ap.add_argument("--secs", default="?")
    ap.add_argument("--load-start", default="?")
    ap.add_argument("--load-end", default="?")
    ap.add_argument("--peers", default=" ".join(PEER_NOTES))
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    if a.brief:
        print(brief(sys.stdin.read().strip()))
        return
    md = report(Results(load(a.raw)), a)
    with open(a.out, "w") as f:
        f.write(md)


if __name__ == "__main__":
    main()
