"""`make bench`: run the benchmarks and write their figures into docs/benchmarks.md."""

import argparse
import importlib
import sys

from tests.benchmarks.harness import Bench

BENCHMARKS = {
    "signup": "tests.benchmarks.bench_signup",
    "twilio": "tests.benchmarks.bench_twilio",
    "campaign": "tests.benchmarks.bench_campaign",
    "contacts": "tests.benchmarks.bench_contacts",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="make bench BENCH_ARGS=...")
    # Checked here rather than with choices=: how argparse checks a "*" positional's default
    # against its choices changed between Python releases (3.11.7 refuses the list of all).
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"any of {', '.join(BENCHMARKS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})"
        )
    names = args.names or list(BENCHMARKS)
    bench = Bench.prepare()
    try:
        for name in names:
            print(f"\n== benchmark: {name}", flush=True)
            importlib.import_module(BENCHMARKS[name]).run(bench)
            bench.stop()
    finally:
        bench.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
