"""The cards of docs/sources/: one per source, each listed in its README, named by the quantities and
claims whose comparison it holds, and every path to a card in the code leads to one."""

import re
from pathlib import Path

from genproof.catalog import describe, ordered
from genproof.claims import __main__ as cli, all_claims

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "docs" / "sources"
CARDS = sorted(p for p in SOURCES.glob("*.md") if p.name != "README.md")


def test_every_card_is_titled_listed_and_says_where_genproof_differs():
    listed = (SOURCES / "README.md").read_text()
    assert len(CARDS) >= 10
    for card in CARDS:
        text = card.read_text()
        assert text.startswith(f"# {card.stem}: "), card.name
        assert "What genproof computes:" in text, card.name
        assert any(h.startswith("## ") and "differ" in h for h in text.splitlines()), card.name
        assert f"`{card.name}`" in listed, card.name


def test_every_card_is_named_by_a_quantity_or_a_claim():
    named = {e.factory.card for e in ordered() if e.factory.card} | {c.card for c in all_claims() if c.card}
    assert {str(c.relative_to(REPO)) for c in CARDS} == named


def test_every_claim_of_a_source_with_a_card_names_it_and_the_list_shows_it(capsys):
    for claim in all_claims():
        card = f"docs/sources/{claim.id.partition('.')[0]}.md"
        assert claim.card == (card if (REPO / card).is_file() else ""), claim.id
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "zhang2017.random-labels" in out and "card: docs/sources/zhang2017.md" in out


def test_the_quantities_of_each_card_show_it():
    cards = {e.name: e.factory.card for e in ordered() if e.factory.card}
    expected = {"pbb": "perezortiz2021", "compression": "lotfi2022", "norms": "neyshabur2017",
                "pac-bayes": "dziugaite2017", "stability": "hardt2016", "spec-orig": "jiang2020",
                "pacbayes-flatness": "jiang2020", "path": "neyshabur2017", "incoherence": "chatterjee2020"}
    for name, source in expected.items():
        assert cards[name] == f"docs/sources/{source}.md", name
    for name, card in cards.items():
        assert (REPO / card).is_file() and card in describe(name), name


def test_every_card_the_code_points_at_exists():
    pointers = set()
    for path in [*REPO.glob("genproof/**/*.py"), *REPO.glob("empirical/**/*.py"), REPO / "docs" / "design.md"]:
        pointers |= set(re.findall(r"docs/sources/[\w.-]+\.md", path.read_text()))
    assert pointers and all((REPO / p).is_file() for p in pointers), sorted(p for p in pointers
                                                                            if not (REPO / p).is_file())
