"""The bounds report and figure on a synthetic result: one bar per row, each label its own, a
legend of what is drawn, and a confidence sentence that fits the rows."""

import matplotlib

from genproof import bounds
from genproof.report import bounds_text

matplotlib.use("Agg")

MEASURED = {"train_error": 0.0, "test_error": 0.05, "gap": 0.05, "n_params": 1000, "n_train": 100, "n_test": 50,
            "params_per_example": 10.0, "steps": 20, "epochs": 2.0, "fitted": True, "uniform_guess_error": 0.9,
            "train_wall_s": 1.0}


def row(name, kind, value, test_error=0.05, delta=0.05, family="pbb"):
    return {"name": name, "kind": kind, "value": value, "delta": delta, "train_error": 0.0, "test_error": test_error,
            "measured_gap": test_error, "implied_gap": value, "ratio_to_gap": 2.0, "vacuity": "non-vacuous",
            "source": "a paper", "family": family, "detail": {}}


def result(rows, using_delta):
    return {"model": "mlp", "dataset": "digits", "measured": MEASURED, "bounds": rows, "simultaneous": False,
            "delta": 0.05, "families_using_delta": using_delta, "family_seconds": {}, "not_evaluated": [],
            "fit_run": "fit-0"}


def test_two_stochastic_rows_of_one_family_get_a_bar_each():
    rows = [row("PBB, data-dependent prior", "stochastic", 0.0878, test_error=0.0497),
            row("PBB, data-independent prior", "stochastic", 0.95, test_error=0.892)]
    fig = bounds.figure(result(rows, 1))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["train error", "test error", "gap", "test error of Q (sampled), PBB, data-dependent prior",
                      "PBB, data-dependent prior", "test error of Q (sampled), PBB, data-independent prior",
                      "PBB, data-independent prior"]
    drawn = [p for p in ax.patches if p.get_height() > 0]
    assert len(drawn) == 7 and len({p.get_x() for p in drawn}) == 7
    assert [p.get_height() for p in drawn][3:] == [0.0497, 0.0878, 0.892, 0.95]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "upper bound (certificate)" in legend and "lower estimate of a bound" not in legend


def test_repeated_names_are_told_apart_and_absent_kinds_stay_out_of_the_legend():
    fig = bounds.figure(result([row("spectral", "measure", 3.0), row("same", "network", 2.0),
                                row("same", "network", 3.0)], 1))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][3:] == ["same", "same (2)"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[2:] == ["upper bound (certificate)"]
    only_measures = bounds.figure(result([row("spectral", "measure", 3.0)], 0)).axes[0]
    assert len(only_measures.get_legend().get_texts()) == 2  # the two lines, no bar kinds


def test_the_title_says_how_much_data_the_network_saw():
    title = bounds.figure(result([row("vc", "network", 2.0)], 1)).axes[0].get_title()
    assert title == "mlp on digits (100 train / 50 test examples)"  # a subset of a data set says it is one


def test_a_verdict_prints_in_short_lines_with_one_verdict_word():
    from genproof.report import Verdict, verdict_text

    measured = {f"quantity_number_{i}": 0.123456 * i for i in range(40)}
    v = Verdict(claim="a.b", tier="quick", holds=True, measured=measured, tolerances={"t": 1.0}, setting=None,
                statement="", source="", cited={}, cited_from="", expected_to_hold=True, wall_s=2.0)
    text = verdict_text(v)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.startswith("    holds (2.0 s)\n") and text.count("holds") == 1
    assert "quantity_number_39=4.815" in text and "tolerances: t=1" in text


def test_the_confidence_sentence_says_when_no_row_uses_delta():
    text = bounds.report_markdown(result([row("spectral", "measure", 3.0, delta=None)], 0))
    assert "No row uses a confidence parameter delta" in text and "1 - 0 x" not in text
    assert "1 - 2 x 0.05 (a union bound)" in bounds.report_markdown(result([row("vc", "network", 2.0)], 2))


def test_the_terminal_table_is_narrow_and_plain():
    rows = [row("VC dimension at BHLM's upper bound on VCdim", "network", 2.178, family="vc"),
            row("spectral | margin", "measure", 451.0, delta=None, family="norms"),
            {"name": "Frobenius / margin", "kind": "not-applicable", "family": "norms",
             "detail": {"reason": "a residual network: the theorem covers chains of layers " + "x" * 100}}]
    text = bounds_text(result(rows, 1))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120 and "\\|" not in text
    assert lines[3].startswith("bound ") and lines[4].startswith("VC dimension at BHLM's upper bound on V~  network  ")
    assert "1 - 0.05" in lines[4] and "spectral | margin" in lines[5] and "does not apply (below)" in lines[6]
    assert lines[8].startswith("Frobenius / margin: a residual network") and lines[9].startswith("  xxx")
    assert "together they hold with probability >= 1 - 1 x 0.05" in " ".join(text.split())
