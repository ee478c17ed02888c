"""Reports: the claims ledger and small markdown tables, from records and verdicts (no number
in a report is typed in by hand)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from empirical.records import to_jsonable, write_json, write_text


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


@dataclass(frozen=True, eq=False)
class Verdict:
    """The outcome of checking one claim at one tier."""

    claim: str
    tier: str
    holds: bool
    measured: dict
    tolerances: dict
    setting: Any
    statement: str
    source: str
    cited: dict
    cited_from: str
    expected_to_hold: bool
    wall_s: float
    records: tuple[str, ...] = ()  # the runs the measurement read, relative to the record root
    code: dict | None = None  # the code that judged it (`empirical.records.versions()`)

    def to_json(self) -> dict:
        return to_jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def explain(self) -> str:
        """One paragraph: the verdict, the measured numbers and the tolerances."""
        nums = ", ".join(f"{k}={fmt(v)}" for k, v in self.measured.items())
        tols = ", ".join(f"{k}={fmt(v)}" for k, v in self.tolerances.items())
        word = "holds" if self.holds else "does NOT hold"
        return f"{self.claim} [{self.tier}] {word}: {nums} (tolerances: {tols})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; floats to 4 significant digits, `|` escaped."""
    def cell(v):
        return fmt(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def text_table(header: Sequence[str], rows: Sequence[Sequence], widths: Sequence[int]) -> str:
    """A plain table for a terminal: columns padded to `widths`, a longer cell cut with "~"."""
    def cell(v, w):
        text = fmt(v)
        return (text if len(text) <= w else text[:w - 1] + "~").ljust(w)

    return "\n".join("  ".join(cell(v, w) for v, w in zip(line, widths)).rstrip() for line in [header, *rows]) + "\n"


def confidence_sentence(result: dict) -> str:
    """How the rows of a bounds table hold together: at their own delta, by a union bound, or
    simultaneously (`--simultaneous`); or that no row uses delta."""
    n, delta = result["families_using_delta"], result["delta"]
    if not n:
        return "No row uses a confidence parameter delta: none is a bound that holds with high probability."
    if result["simultaneous"]:
        return (f"All rows hold together with probability >= 1 - {delta:g}: delta is split evenly over the {n} "
                f"families that use one (--simultaneous).")
    return (f"Each row holds at its own confidence (column 'holds w.p.'); the rows are not simultaneous: together "
            f"they hold with probability >= 1 - {n} x {delta:g} (a union bound). `--simultaneous` splits delta "
            f"across them.")


def bounds_text(result: dict) -> str:
    """The bounds table of `genproof.bounds` for a terminal, lines of at most 120 characters and no
    sources (those are in `bounds.md`): the measured errors, one line per row, why a family does not
    apply, how the rows hold together and the families not evaluated."""
    m = result["measured"]
    text = (f"{result['model']} on {result['dataset']}: train error {fmt(m['train_error'])}, test error "
            f"{fmt(m['test_error'])}, gap {fmt(m['gap'])}\n{m['n_params']:,} parameters, {m['n_train']:,} / "
            f"{m['n_test']:,} examples, "
            f"{'trained by its user' if m['steps'] is None else str(m['steps']) + ' steps'}, "
            f"{'fitted' if m['fitted'] else 'not fitted'}; "
            f"uniform guess {fmt(m['uniform_guess_error'])}\n\n")
    rows, reasons = [], []
    for b in result["bounds"]:
        if b["kind"] == "not-applicable":
            rows.append([b["name"], b["kind"], "", "", "", "does not apply (below)"])
            reasons.append(_wrap(f"{b['name']}: {b['detail']['reason']}"))
            continue
        holds = "expectation" if b["kind"] == "expectation" else f"1 - {b['delta']:.3g}" if b["delta"] is not None else ""
        ratio = b["ratio_to_gap"]
        rows.append([b["name"], b["kind"], b["value"], holds, "" if ratio is None else ratio, b["vacuity"] or ""])
    table = text_table(["bound", "kind", "value", "holds w.p.", "/ gap", "vacuity"], rows, (40, 14, 9, 10, 7, 30))
    text += table + ("\n" + "".join(reasons) if reasons else "") + "\n" + _wrap(confidence_sentence(result))
    if result["not_evaluated"]:
        text += _wrap(f"Not evaluated (add with `--families NAME,...` or `--families all`): "
                      f"{', '.join(f['family'] for f in result['not_evaluated'])}")
    return text


def _wrap(sentence: str) -> str:
    return textwrap.fill(sentence, width=100, subsequent_indent="  ", break_long_words=False) + "\n"


def verdict_word(v: Verdict) -> str:
    word = "holds" if v.holds else "does not hold"
    if v.holds != v.expected_to_hold:
        word += " (unexpected)" if v.expected_to_hold else " (known failure at this tier)"
    elif not v.holds:
        word += " (known failure at this tier)"
    return word


def verdict_text(v: Verdict, width: int = 100) -> str:
    """A verdict for the terminal: its word and time on one line, then its measured numbers and
    tolerances wrapped at `width` (the ledger keeps the full table)."""
    def block(label: str, numbers: dict) -> str:
        body = ", ".join(f"{k}={fmt(x)}" for k, x in numbers.items()) or "none"
        return textwrap.fill(f"{label}: {body}", width=width, initial_indent="      ", subsequent_indent="        ",
                             break_long_words=False, break_on_hyphens=False)

    return f"    {verdict_word(v)} ({v.wall_s:.1f} s)\n{block('measured', v.measured)}\n{block('tolerances', v.tolerances)}"


def ledger_markdown(verdicts: Sequence[Verdict], tier: str) -> str:
    """The ledger: one row per claim (id, statement, source, measured numbers, tolerances,
    verdict), then per claim the source's own numbers and where they were read (or why there are none)."""
    held = sum(v.holds for v in verdicts)
    out = [f"# genproof claims ledger, tier `{tier}`\n",
           f"{len(verdicts)} claims: {held} hold, {len(verdicts) - held} do not. {_code_line(verdicts)}\n",
           markdown_table(
               ["claim", "statement", "source", "measured", "tolerances", "verdict", "time (s)"],
               [[v.claim, v.statement, v.source,
                 "; ".join(f"{k}={fmt(x)}" for k, x in v.measured.items()),
                 "; ".join(f"{k}={fmt(x)}" for k, x in v.tolerances.items()),
                 verdict_word(v), round(v.wall_s, 1)] for v in verdicts])]
    out.append("\n## The records each verdict read (under the record root)\n\n")
    out += [f"- {v.claim}: {', '.join(f'`{r}`' for r in v.records) or 'none (computed without a record)'}\n"
            for v in verdicts]
    out.append("\n## The sources' own numbers (for comparison, never used by the verdicts)\n")
    for v in verdicts:
        out.append(f"\n### {v.claim}\n\n{v.cited_from or 'not stated'}\n\n")
        if v.cited:
            out.append(markdown_table(["quantity", "source"], list(v.cited.items())))
    return "".join(out)


def _code_line(verdicts: Sequence[Verdict]) -> str:
    """The code that judged the verdicts: one commit, or each one there is (a ledger assembled
    across checkouts says so)."""
    codes = {(c.get("genproof"), c.get("commit")) for v in verdicts if (c := v.code)}
    if not codes:
        return ""
    return "Judged by " + "; ".join(f"genproof {ver} at commit {commit or 'unknown (not a git checkout)'}"
                                    for ver, commit in sorted(codes, key=str)) + "."


def write_ledger(verdicts: Sequence[Verdict], tier: str, out: Path) -> tuple[Path, Path]:
    """Write `out/claims.md` and `out/claims.json` (each verdict with the records it read and the
    code that judged it)."""
    out = Path(out)
    md = write_text(out / "claims.md", ledger_markdown(verdicts, tier))
    js = write_json(out / "claims.json", {"tier": tier, "claims": [v.to_json() for v in verdicts]})
    return md, js
