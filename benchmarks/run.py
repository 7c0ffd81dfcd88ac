"""Run every benchmarks/bench_*.py and print its figures: `make bench`."""

import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import test_database  # noqa: E402


def main(selected: list[str]) -> None:
    names = sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))
    for name in names:
        if selected and not any(word in name for word in selected):
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}: {module.__doc__.strip().splitlines()[0]}")
        started = time.perf_counter()
        with test_database():
            for line in module.run():
                print(f"  {line}", flush=True)
        print(f"  (benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
