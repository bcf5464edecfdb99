#!/usr/bin/env python3
"""Summarizes Benchmarks/proxy/run.sh's results.tsv as a Markdown table: the median of the
repetitions of each (proxy, mode, size), and ratios against the better nginx configuration (the
one with the higher 64-byte throughput in this run)."""

import statistics
import sys
from collections import defaultdict


def fields(text):
    return dict(kv.split("=", 1) for kv in text.split() if "=" in kv)


def main(path):
    runs = defaultdict(list)
    sessions = []
    comments = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                comments.append(line)
                continue
            parts = line.split("\t")
            if len(parts) < 5:
                continue
            name, mode, size, _rep, rest = parts[:5]
            if mode == "sessions":
                sessions.append(fields(rest))
                continue
            runs[(name, mode, int(size))].append(fields(rest))

    def median(name, mode, size, key):
        values = [float(r[key]) for r in runs.get((name, mode, size), []) if key in r and r[key] != "nan"]
        return statistics.median(values) if values else float("nan")

    names = []
    for name, _, _ in runs:
        if name not in names:
            names.append(name)
    sizes = sorted({size for _, _, size in runs})
    nginxes = [n for n in names if n.startswith("nginx")]
    best = max(nginxes, key=lambda n: median(n, "flood", 64, "rps")) if nginxes else None

    def ratio(value, reference):
        if reference != reference or value != value or reference == 0:
            return ""
        return f" ({value / reference:.2f}×)"

    for c in comments:
        print(c)
    print()
    print(f"Medians of the repetitions; ratios against **{best}** (the better nginx configuration in this run).")
    print()
    print("| proxy | size | throughput (rt/s, 32 in flight) | CPU µs/rt (flood) | ping rt/s (1 core) | p50 µs | p99 µs | CPU µs/rt (ping) | lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        for size in sizes:
            f_rps = median(name, "flood", size, "rps")
            f_cpu = median(name, "flood", size, "cpu_us_per_rt")
            p_rps = median(name, "ping", size, "rps")
            p50 = median(name, "ping", size, "p50_us")
            p99 = median(name, "ping", size, "p99_us")
            p_cpu = median(name, "ping", size, "cpu_us_per_rt")
            lost = sum(int(r.get("lost", 0)) for m in ("ping", "flood") for r in runs.get((name, m, size), []))
            ref = lambda mode, key: median(best, mode, size, key) if best else float("nan")
            cpu_f = "–" if name == "direct" else f"{f_cpu:.1f}{ratio(f_cpu, ref('flood', 'cpu_us_per_rt'))}"
            cpu_p = "–" if name == "direct" else f"{p_cpu:.1f}{ratio(p_cpu, ref('ping', 'cpu_us_per_rt'))}"
            print(
                f"| {name} | {size} | {f_rps:,.0f}{ratio(f_rps, ref('flood', 'rps'))} | {cpu_f} "
                f"| {p_rps:,.0f}{ratio(p_rps, ref('ping', 'rps'))} | {p50:.1f}{ratio(p50, ref('ping', 'p50_us'))} "
                f"| {p99:.1f}{ratio(p99, ref('ping', 'p99_us'))} | {cpu_p} | {lost} |"
            )
    for s in sessions:
        print()
        print(
            f"l7mp with {s.get('flows')} flows ({s.get('answered')} answered, {s.get('sessions_active')} sessions active): "
            f"RSS {s.get('rss_base_kib')} → {s.get('rss_kib')} KiB, {s.get('kib_per_session')} KiB per session."
        )


if __name__ == "__main__":
    main(sys.argv[1])
