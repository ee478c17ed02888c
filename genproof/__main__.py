"""`genproof TOOL ...`: the console script, one word per command-line tool:
`genproof bounds` is `python -m genproof.bounds`, `genproof claims` is `python -m genproof.claims`,
`genproof rrm` is `python -m genproof.rrm`, `genproof bootstrap` is `python -m genproof.bootstrap`,
`genproof coherence` is `python -m genproof.coherence`, `genproof study` is `python -m genproof.study`,
`genproof randomization` is `python -m empirical.randomization`, `genproof runs` is `python -m genproof.runs`
(the record store: `ls`, `rm --older-than DAYS`)."""

from __future__ import annotations

import importlib
import sys

TOOLS = {"bounds": "genproof.bounds", "claims": "genproof.claims.__main__", "rrm": "genproof.rrm",
         "bootstrap": "genproof.bootstrap", "coherence": "genproof.coherence", "study": "genproof.study",
         "randomization": "empirical.randomization", "runs": "genproof.runs"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in TOOLS:
        print(f"usage: genproof {{{','.join(TOOLS)}}} [options]   (genproof TOOL --help for each)", file=sys.stderr)
        return 2
    return importlib.import_module(TOOLS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
