"""`python -m genproof.claims --tier quick --out DIR`: check every registered claim (or those
matching `--only`) and write the ledger `DIR/claims.md` and `DIR/claims.json`. Training runs are
cached under `DIR/runs`. The exit status is 1 when a claim that is expected to hold does not."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import TIERS, select


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genproof.claims", description=__doc__)
    parser.add_argument("--tier", choices=TIERS, default="quick")
    parser.add_argument("--out", type=Path, default=Path("runs/claims"), help="ledger folder (default runs/claims)")
    parser.add_argument("--only", nargs="*", metavar="PATTERN", help="claim ids or shell patterns (zhang2017.*)")
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    args = parser.parse_args(argv)

    from ..report import verdict_word, write_ledger

    try:
        claims = select(args.only)
    except ValueError as err:
        parser.error(str(err))
    if args.list:
        for c in claims:
            print(f"{c.id:45s} {c.source}")
        return 0
    verdicts = []
    for i, claim in enumerate(claims, 1):
        print(f"[{i}/{len(claims)}] {claim.id} ({args.tier}) ...", flush=True)
        verdicts.append(claim.check(args.tier, args.out / "runs"))
        print(f"    {verdict_word(verdicts[-1])}: {verdicts[-1].explain()}", flush=True)
    md, js = write_ledger(verdicts, args.tier, args.out)
    print(f"ledger: {md} and {js}")
    return int(any(v.expected_to_hold and not v.holds for v in verdicts))


if __name__ == "__main__":
    sys.exit(main())
