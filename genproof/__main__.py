"""`genproof TOOL ...`: the console script; `genproof bounds` is `python -m genproof.bounds`,
`genproof claims` is `python -m genproof.claims`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tools = {"bounds": "genproof.bounds", "claims": "genproof.claims.__main__"}
    if not argv or argv[0] not in tools:
        print(f"usage: genproof {{{','.join(tools)}}} [options]   (genproof TOOL --help for each)", file=sys.stderr)
        return 2
    import importlib

    return importlib.import_module(tools[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
