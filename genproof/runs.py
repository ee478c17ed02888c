"""`python -m genproof.runs ls|rm`: the record store (`--out`, default `$GENPROOF_CACHE` or the user's
cache folder).

    python -m genproof.runs ls                     every finished run: name, date, size, code, config
    python -m genproof.runs rm --older-than 30     remove the runs finished more than 30 days ago

A run is removed whole and under its lock (never while a process is writing it), and the leftover
temporaries of killed processes go with it; a removed run is computed again when next asked for.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from empirical import cli, store
from empirical.records import default_root, record_lock


def size_text(size: int) -> str:
    """Bytes for a reader: 512 B, 3.4 kB, 12.0 MB, 1.5 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def ls(root: Path) -> int:
    found = store.entries(root)
    for e in found:
        print(f"{e.path.name:<30} {e.finished:%Y-%m-%d %H:%M} {size_text(e.size):>9} {e.code:<18} {e.about}")
    print(f"{len(found)} runs, {size_text(sum(e.size for e in found))}, in {root}")
    return 0


def rm(root: Path, older_than_days: float) -> int:
    cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days)
    removed = []
    for e in store.entries(root):
        if e.finished < cutoff:
            with record_lock(e.path):
                if e.path.exists():
                    store.remove(e.path)
                    removed.append(e)
                    print(f"removed {e.path.name} ({size_text(e.size)}, {e.finished:%Y-%m-%d})")
    stale = store.clear_stale(root)
    print(f"removed {len(removed)} runs ({size_text(sum(e.size for e in removed))}) finished before "
          f"{cutoff:%Y-%m-%d %H:%M} UTC, and {len(stale)} leftover temporaries, from {root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = cli.new_parser("python -m genproof.runs", __doc__)
    actions = parser.add_subparsers(dest="action", required=True, metavar="{ls,rm}")
    cli.add_out_option(actions.add_parser("ls", help="list the finished runs"))
    remove = actions.add_parser("rm", help="remove the runs finished more than DAYS ago")
    remove.add_argument("--older-than", type=cli.positive_float, required=True, metavar="DAYS",
                        help="remove the runs finished more than DAYS ago (a number, 0.5 is twelve hours)")
    cli.add_out_option(remove)
    args = parser.parse_args(argv)
    root = Path(args.out or default_root()).expanduser()
    if not root.is_dir():
        print(f"error: no record store at {root}: nothing has run there yet, or pass --out DIR", file=sys.stderr)
        return 2
    return cli.run_command(lambda: ls(root) if args.action == "ls" else rm(root, args.older_than))


if __name__ == "__main__":
    sys.exit(main())
