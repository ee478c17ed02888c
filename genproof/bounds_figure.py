"""The figure of a bounds table: measured errors, certificates and lower estimates on one log axis."""

from __future__ import annotations

from .kinds import UPPER_BOUNDS


def figure(result: dict):
    """The measured errors, every certificate (upper bounds, solid; a stochastic network's next to
    its own sampled test error, a compressed network's next to its own test error) and every lower
    estimate of a bound (hatched) on one log axis, with the lines of vacuity (1) and of a uniform
    guess (1 - 1/K). Measures have no scale to share and are left out."""
    import matplotlib.pyplot as plt

    m = result["measured"]
    names = ["train error", "test error", "gap"]
    names, values, style = zip(*[(n, v, s) for n, v, s in zip(
        names, [m["train_error"], m["test_error"], m["gap"]], [("C0", "C0", None), ("C1", "C1", None),
                                                                ("C2", "C2", None)]) if v is not None])  # (face, edge, hatch)
    names, values, style = list(names), list(values), list(style)
    for b in result["bounds"]:
        if b["kind"] in ("stochastic", "compressed") and b["test_error"] is not None:  # Q's or the compressed net's
            names.append(f"test error of {'Q (sampled)' if b['kind'] == 'stochastic' else 'the compressed network'}, "
                         f"{b['name']}")
            values.append(b["test_error"])
            style.append(("C4", "C4", None))
        if b["kind"] in UPPER_BOUNDS + ("lower-estimate",):
            names.append(b["name"])
            values.append(b["value"])
            style.append(("C3", "C3", None) if b["kind"] in UPPER_BOUNDS else ("white", "C3", "//"))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # one bar per position, each label its own
        seen[name] = seen.get(name, 0) + 1
        names[i] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    floor = 1e-4  # a zero error is drawn at the floor of the log axis
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 4.2))
    bars = ax.bar(range(len(names)), [max(v, floor) for v in values], color=[s[0] for s in style],
                  edgecolor=[s[1] for s in style], hatch=[s[2] for s in style], tick_label=names)
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=2)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="vacuous at or above 1")
    ax.axhline(m["uniform_guess_error"], color="0.4", ls=":", lw=1.2,
               label=f"uniform guess, 1 - 1/K = {m['uniform_guess_error']:.3g}")
    kinds = {b["kind"] for b in result["bounds"]}
    if kinds & {"stochastic", "compressed"}:
        ax.bar([0], [0], color="C4", label="test error of what a certificate bounds")
    if kinds & set(UPPER_BOUNDS):
        ax.bar([0], [0], color="C3", label="upper bound (certificate)")
    if "lower-estimate" in kinds:
        ax.bar([0], [0], color="white", edgecolor="C3", hatch="//", label="lower estimate of a bound")
    ax.set(yscale="log", ylim=(floor, max(10.0, max(values) * 2)), ylabel="error / bound",
           title=f"{result['model']} on {result['dataset']} ({m['n_train']:,} train / {m['n_test']:,} test examples)")
    ax.tick_params(axis="x", labelrotation=30)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.legend(fontsize=8)
    return fig
