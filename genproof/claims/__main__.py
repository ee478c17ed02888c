"""`python -m genproof.claims --tier quick [--out ROOT] [--ledger DIR]`: check every registered claim
(or those matching `--only`, in the order of the patterns) and write the ledger `DIR/claims.md` and
`DIR/claims.json` (default DIR: `ledger/` in the current folder), rewritten after every claim so
that a run stopped midway keeps the verdicts it reached. Training runs are cached under the record
root `--out` (default `empirical.records.default_root()`, as in every tool). `--log tensorboard|mlflow`
copies the ledger to a tracker (`empirical.trackers`). `--rehearse` runs each setting shrunk to
tiny sizes (`empirical.rehearsal.shrink`): the tier's code paths on a CPU, in seconds, with
verdicts that say nothing about the claims (the ledger's tier reads "full (rehearsal)"). The exit
status is 1 when a claim that is expected to hold does not (never in a rehearsal), 2 on a bad
argument."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from empirical import cli, trackers
from empirical.data import DataNotFoundError
from empirical.rehearsal import shrink

from . import select


def main(argv: list[str] | None = None) -> int:
    parser = cli.new_parser("python -m genproof.claims", __doc__)
    cli.add_tier_option(parser)
    cli.add_out_option(parser)
    cli.add_log_option(parser)
    parser.add_argument("--ledger", type=Path, default=Path("ledger"), metavar="DIR",
                        help="folder for the ledger claims.md and claims.json (default ./ledger, in the current "
                             "folder; the runs go under --out)")
    parser.add_argument("--only", nargs="*", metavar="PATTERN", help="claim ids or shell patterns (zhang2017.*)")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument("--rehearse", action="store_true",
                        help="run every setting shrunk to tiny sizes: the code paths, not the claims")
    args = parser.parse_args(argv)

    from ..report import verdict_text, write_ledger

    try:
        claims = select(args.only)
    except ValueError as err:
        parser.error(str(err))
    if args.list:
        for c in claims:
            print(f"{c.id:45s} {c.source}" + (f"; card: {c.card}" if c.card else ""))
        return 0

    tier = f"{args.tier} (rehearsal)" if args.rehearse else args.tier

    def command() -> int:
        from empirical.records import default_root

        print(f"ledger: {args.ledger.resolve()}/claims.md and claims.json, rewritten after every claim; "
              f"runs: {(args.out or default_root()).resolve()}", flush=True)
        verdicts, skipped = [], []
        for i, claim in enumerate(claims, 1):
            print(f"[{i}/{len(claims)}] {claim.id} ({tier}) ...", flush=True)
            try:
                if args.rehearse:
                    verdicts.append(claim.judge(shrink(claim.settings[args.tier]), tier, args.out))
                else:
                    verdicts.append(claim.check(args.tier, args.out))
            except DataNotFoundError as err:  # optional data not here: the others go on, as under pytest
                skipped.append(claim.id)
                print(f"    skipped, data not installed: {' '.join(str(err).split())}", flush=True)
                continue
            print(verdict_text(verdicts[-1]), flush=True)
            write_ledger(verdicts, tier, args.ledger)  # after every claim: a killed run keeps its verdicts
        md, js = write_ledger(verdicts, tier, args.ledger)
        if skipped:
            print(f"skipped {len(skipped)}, their data not installed: {', '.join(skipped)}")
        print(f"ledger: {md.resolve()} and {js.resolve()}")
        ledger = json.loads(js.read_text())  # the tracker's copy is read from the ledger, keyed by claim id
        ledger["claims"] = {v["claim"]: v for v in ledger["claims"]}
        cli.log_entries(args, [trackers.from_json(f"claims-{args.tier}", ledger, {"claims.md": md.read_text()})])
        return int(not args.rehearse and any(v.expected_to_hold and not v.holds for v in verdicts))

    return cli.run_command(command)


if __name__ == "__main__":
    sys.exit(main())
