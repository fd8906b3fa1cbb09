"""The behaviour suite against a stored model: pass rates by capability.

Usage: ``python -m bench.behaviour [--model sentiment:latest] [--examples 3]
[--check]`` (``make behaviour``). Prints every capability's pass rate with failing
examples, then the headline capabilities against their targets. ``--check``
exits 1 when one is below its target. The targets live here, not in unit tests:
they are about the model, not the code.
"""

from __future__ import annotations

import argparse
import sys

from sentiment.training.behaviour import (
    TARGETS,
    pass_rates,
    positive_probability,
    report,
    run_suite,
)


def targets_table(rates: dict[str, float]) -> tuple[str, bool]:
    """The headline rates against :data:`TARGETS`, and whether all are met."""
    lines = [f"{'capability':<20} {'pass':>7} {'target':>7}"]
    met = True
    for name, target in TARGETS.items():
        ok = rates[name] >= target
        met &= ok
        lines.append(
            f"{name:<20} {rates[name]:>7.1%} {target:>7.0%}  {'ok' if ok else 'BELOW'}"
        )
    return "\n".join(lines), met


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return 1 with ``--check`` when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="sentiment:latest", help="%(default)s")
    parser.add_argument("--examples", type=int, default=3, help="%(default)s")
    parser.add_argument("--check", action="store_true", help="exit 1 below target")
    args = parser.parse_args(argv)
    from sentiment.errors import StartupError
    from sentiment.model.artifact import StoreModel, load_pipeline

    try:
        pipeline = load_pipeline(StoreModel(args.model).checked())
    except StartupError as error:
        print(f"behaviour: error: {error}", file=sys.stderr)
        return 2
    outcomes = run_suite(positive_probability(pipeline))
    print(f"model {args.model}\n")
    print(report(outcomes, args.examples))
    table, met = targets_table(pass_rates(outcomes))
    print("\n" + table)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
