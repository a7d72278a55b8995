"""Hostile input at scale: the properties of tests/test_hostile.py, for many examples.

    python bench/fuzz.py [--examples 10000] [--seed 0]

One bot, driven through the fake Telegram server, takes its share of the examples for
each property, with the very strategies the fast CI test uses (imported, not copied):
every command with generated arguments, by residents, outsiders and leaders of the
other building, in private and in groups; every callback data format the bot writes,
forged, pressed by people without rights on the report they name; commands whose
message is then edited to anything; commands for another bot, in text and in captions.
Prints the examples run, unauthorised changes (must be 0), tracebacks (must be 0:
an error logged, an apology for an internal error, a send Telegram refused) and other
failures (an input left unanswered), with the first few of each.

Quiet hours are off and the bot's clock stands still, so the figures do not depend on
the time of day this runs at.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.test_hostile import (  # noqa: E402
    PROPERTIES,
    Traceback,
    UnauthorisedChange,
    World,
)

NO_QUIET_HOURS = {"start": "00:00", "end": "00:00"}


def run(examples: int, start_seed: int) -> int:
    tally: Counter[str] = Counter()
    firsts: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="linli-fuzz-") as folder:
        world = World(Path(folder), quiet_hours=NO_QUIET_HOURS)
        world.run(world.open(), timeout=120)
        started = time.perf_counter()
        try:
            share, extra = divmod(examples, len(PROPERTIES))
            for index, (name, (prop, strategies)) in enumerate(PROPERTIES.items()):
                wanted = share + (1 if index < extra else 0)
                _fuzz(world, name, prop, strategies, wanted, start_seed + index, tally, firsts)
        finally:
            world.run(world.close())
            logging.getLogger().removeHandler(world.errors)
            world.loop.call_soon_threadsafe(world.loop.stop)
            world.thread.join(5)
    elapsed = time.perf_counter() - started
    print(f"examples run: {tally['run']} in {elapsed:.0f} s "
          f"({', '.join(f'{n} {tally[n]}' for n in PROPERTIES)})")
    print(f"unauthorised changes: {tally['unauthorised']}")
    print(f"tracebacks: {tally['traceback']}")
    print(f"other failures: {tally['other']}")
    for kind, found in firsts.items():
        for line in found:
            print(f"  {kind}: {line}")
    return 0 if tally["run"] >= examples and not (
        tally["unauthorised"] or tally["traceback"] or tally["other"]) else 1


def _fuzz(world: World, name: str, prop: Any, strategies: dict[str, Any], wanted: int,
          at_seed: int, tally: Counter[str], firsts: dict[str, list[str]]) -> None:
    done = 0

    def example(**kwargs: Any) -> None:
        nonlocal done
        if done >= wanted:
            return
        done += 1
        tally["run"] += 1
        tally[name] += 1
        if tally["run"] % 500 == 0:  # a sign of life on stderr; the figures go to stdout
            print(f"... {tally['run']} examples, {tally['unauthorised']} unauthorised,"
                  f" {tally['traceback']} tracebacks", file=sys.stderr, flush=True)
        try:
            world.run(prop(world, **kwargs), timeout=60)
        except UnauthorisedChange as problem:
            _note(tally, firsts, "unauthorised", name, kwargs, problem)
        except Traceback as problem:
            _note(tally, firsts, "traceback", name, kwargs, problem)
        except Exception as problem:  # unanswered, a timeout: counted, and the run goes on
            _note(tally, firsts, "other", name, kwargs, problem)

    # generation only: an example that fails is counted, not shrunk; hypothesis may stop a
    # round early when it thinks it has seen enough, so rounds go on until the share is run
    round_ = 0
    while done < wanted and round_ < 20:
        runner = settings(max_examples=wanted - done, deadline=None, database=None,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck))(
            seed(at_seed * 1000 + round_)(given(**strategies)(example)))
        runner()
        round_ += 1


def _note(tally: Counter[str], firsts: dict[str, list[str]], kind: str, name: str,
          kwargs: dict[str, Any], problem: BaseException) -> None:
    tally[kind] += 1
    found = firsts.setdefault(kind, [])
    if len(found) < 5:
        found.append(f"{name} {kwargs!r}: {type(problem).__name__} {str(problem)[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    # errors reach the World's counting handler, and nothing is printed as it goes
    logging.getLogger().setLevel(logging.ERROR)
    return run(ns.examples, ns.seed)


if __name__ == "__main__":
    sys.exit(main())
