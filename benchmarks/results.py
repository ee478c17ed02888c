"""The one place benchmarks write to: `append(text)` adds a table to benchmarks/RESULTS.md."""

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def append(text: str) -> None:
    """Append `text` (a markdown section) to RESULTS.md, ending it with a newline."""
    with open(RESULTS, "a") as f:
        f.write(text if text.endswith("\n") else text + "\n")
