# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The import benchmark (see bench/run.sh): each case in a fresh database
copied from a template, its results as a table (Markdown), JSON and a chart
(PNG) in bench/results/."""
import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_case(args, template, case, count, extra_env=None):
    database = f"{args.prefix}_{case}_{count}"
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    subprocess.run(["createdb", "-T", template, database], check=True)
    env = {**os.environ, "BENCH_CASE": case, "BENCH_TRANSACTIONS": str(count), "BENCH_TODAY": args.today,
           **(extra_env or {})}
    print(f"== {case}, {count}", flush=True)
    with open(ROOT / "bench" / "import_speed_case.py", "rb") as script:
        done = subprocess.run(
            [sys.executable, args.odoo_bin, "shell", "-c", args.config, "-d", database, "--no-http",
             "--log-level=warn"],
            stdin=script, env=env, cwd=ROOT, capture_output=True, text=True,
        )
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    results = [json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if done.returncode or not results:
        sys.exit(f"benchmark case {case} {count} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    for result in results:
        print(f"   {result['measure']}: {result['seconds']} s, {result['lines_per_second']} lines/s, "
              f"{result['queries_per_line']} queries/line, peak +{result['peak_memory_mib']} MiB", flush=True)
    return results


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    postgres = subprocess.run(["psql", "-d", "postgres", "-Atc", "SHOW server_version"], capture_output=True,
                              text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} CPU(s), {memory} MiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PostgreSQL {postgres}")


def write_results(args, results):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = {(r["case"], r["transactions"]): r for r in results if r["measure"] == "first sync"}
    lines = [f"# Import benchmark, {args.today}", "", f"Machine: {machine()}", "",
             "First synchronization of N posted transactions of one account into an empty bank journal "
             "(statements per month), each in a fresh database:", "",
             "| N | importer | seconds | lines/s | queries/line | peak memory (MiB) |",
             "|---:|---|---:|---:|---:|---:|"]
    names = {"ours": "ours", "naive": "naive create()", "oca": "OCA account_statement_import_online"}
    for count in args.sizes:
        for case in ("ours", "naive", "oca"):
            r = first.get((case, count))
            if r:
                lines.append(f"| {count:,} | {names[case]} | {r['seconds']:.1f} | {r['lines_per_second']:.0f} | "
                             f"{r['queries_per_line']:.2f} | {r['peak_memory_mib']:.0f} |")
    lines += ["", "| N | ours / naive | ours / OCA |", "|---:|---:|---:|"]
    for count in args.sizes:
        ours, naive, oca = (first.get((case, count)) for case in ("ours", "naive", "oca"))
        if ours:
            ratio = lambda other: f"{ours['lines_per_second'] / other['lines_per_second']:.2f}×" if other else "-"  # noqa: E731
            lines.append(f"| {count:,} | {ratio(naive)} | {ratio(oca)} |")
    ours_sizes = sorted(c for (case, c) in first if case == "ours")
    if len(ours_sizes) > 1:
        small, large = first[("ours", ours_sizes[0])], first[("ours", ours_sizes[-1])]
        lines += ["", f"Cost in N (ours): time({large['transactions']:,}) / time({small['transactions']:,}) = "
                  f"{large['seconds'] / small['seconds']:.1f} for {large['transactions'] / small['transactions']:.0f}× "
                  "the transactions."]
    others = [r for r in results if r["measure"] != "first sync"]
    if others:
        lines += ["", "| other measure | seconds | lines | queries | peak memory (MiB) |", "|---|---:|---:|---:|---:|"]
        for r in others:
            lines.append(f"| {r['measure']} | {r['seconds']:.2f} | {r['lines']} | {r['queries']} | "
                         f"{r['peak_memory_mib']:.0f} |")
    (out / "import_speed.md").write_text("\n".join(lines) + "\n")
    (out / "import_speed.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=1) + "\n")
    chart(out / "import_speed.png", args.sizes, first)
    print("\n".join(lines))


def chart(path, sizes, first):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(8, 4.5))
    width = 0.27
    for offset, (case, label) in enumerate((("ours", "ours"), ("naive", "naive create()"),
                                            ("oca", "OCA online import"))):
        values = [(first.get((case, n)) or {}).get("lines_per_second") or 0 for n in sizes]
        bars = axes.bar([i + (offset - 1) * width for i in range(len(sizes))], values, width, label=label)
        axes.bar_label(bars, fmt="%.0f", fontsize=8)
    axes.set_xticks(range(len(sizes)), [f"{n:,} transactions" for n in sizes])
    axes.set_ylabel("statement lines per second")
    axes.set_title("First synchronization into an empty journal (higher is better)")
    # Room above the bars for the legend, which would hide their labels.
    axes.set_ylim(top=axes.get_ylim()[1] * 1.2)
    axes.legend(loc="upper center", ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--odoo-bin", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--template", required=True, help="database with account and the addon")
    parser.add_argument("--template-oca", required=True, help="the same with the OCA modules")
    parser.add_argument("--sizes", default="1000,10000,20000")
    parser.add_argument("--cron-connections", type=int, default=100)
    parser.add_argument("--prefix", default="online_sync_bench")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--today", default=dt.date.today().isoformat())
    parser.add_argument("--resume", action="store_true",
                        help="keep the cases an interrupted run of the same day already measured")
    parser.add_argument("--cases", default="ours,naive,oca,cron",
                        help="the importers to measure now (with --resume, the others come from the earlier run)")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    args.cases = set(args.cases.split(","))
    # Each case's results as soon as it is measured: an hour of measures is not lost to the last case.
    done_file = Path(args.out) / "import_speed.cases.json"
    done = json.loads(done_file.read_text()) if args.resume and done_file.exists() else {}
    if done.pop("today", args.today) != args.today:
        done = {}

    skipped = []

    def measured(template, case, count, extra=None):
        key = f"{case} {count} {sorted((extra or {}).items())}"
        if key not in done and case not in args.cases:
            skipped.append(key)
            return []
        if key not in done:
            done[key] = run_case(args, template, case, count, extra)
            done_file.parent.mkdir(parents=True, exist_ok=True)
            done_file.write_text(json.dumps({"today": args.today, **done}, indent=1))
        return done[key]

    results = []
    for count in args.sizes:
        extra = {}
        if count == 10_000 or len(args.sizes) == 1:
            extra["BENCH_RESYNC"] = "1"
        if count == max(args.sizes):
            extra["BENCH_ADD"] = "100"
        results += measured(args.template, "ours", count, extra)
        results += measured(args.template, "naive", count)
        results += measured(args.template_oca, "oca", count)
    results += [dict(r, measure="sync of 100 into an empty journal") for r in measured(args.template, "ours", 100)]
    if args.cron_connections:
        results += measured(args.template, "cron", args.cron_connections)
    if skipped:
        print(f"Measured so far: {done_file} (run again with --resume for the other cases)")
        return
    write_results(args, results)
    done_file.unlink()


if __name__ == "__main__":
    main()
