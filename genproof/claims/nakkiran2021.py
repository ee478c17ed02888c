"""Claims of nakkiran2021: Nakkiran, Neyshabur, Sedghi, "The Deep Bootstrap Framework: Good Online
Learners are Good Offline Generalizers", ICLR 2021 (arXiv 2010.08127; code
preetum/deep-bootstrap-code). Where the checks differ from the paper, and what could not be
verified: docs/sources/nakkiran2021.md.

Every claim reads cached Deep Bootstrap experiments (`empirical.deep_bootstrap.experiment`: the
Real World on N samples and the Ideal World on fresh samples, same model, initialization, SGD,
cosine schedule and batch size) through `genproof.bootstrap.analysis` (seed-mean curves, the
stopping time T_D, the bootstrap error = real - ideal test soft-error). Soft-errors and errors are
fractions (0.01 = one point). T_D: every claim judges genproof's rule, the first evaluated step
with Real World train error below 1% (`genproof.bootstrap.JUDGED_RULE`); the authors' code's rule,
train loss below 0.01, is reported beside it (`stopping_time_by_rule`).

quick (CPU): mnist1d, N = 500 real samples, T = 2,000 SGD steps of batch 32 (64,000 fresh samples a
trial), lr 0.1 with a cosine schedule, no momentum, no weight decay; MLPs 3x128 and 3x256 and a
1-D CNN of 16 channels; 3 trials; 40 log-spaced evaluations. full (GPU, configured, not yet run):
the authors' sweep on CIFAR-5m (N = 50,000, T = 39,000 steps of batch 128, MLPs 3x2048 and 3x128, a
CNN, ResNet-18, 10 trials). The full setting is the same on every machine: where CIFAR-5m's parts
are not in $GENPROOF_DATA (about 17 GB, never downloaded), the full-tier claims skip and say so.
Augmentation (`AUGMENTATION`): the authors' random crop and horizontal flip on images, crops only
on mnist1d's 1-D signals.
"""

from __future__ import annotations

from empirical.deep_bootstrap import QUICK_MODELS, experiment, tier_config
from genproof.bootstrap import analysis

from . import Claim, register

SOURCE = "nakkiran2021"
CARD = "docs/sources/nakkiran2021.md"  # where these checks differ from the source, what could not be verified
FULL_DATASET = "cifar5m"  # the authors' distribution; its parts are found in $GENPROOF_DATA, or the claims skip
SETTINGS = {"quick": tier_config("quick", "mnist1d"), "full": tier_config("full", FULL_DATASET)}
AUGMENT_MODEL = QUICK_MODELS[0]  # mlp 3x128: the cheapest of the quick models
AUGMENTATION = {"quick": "crop", "full": "crop+flip"}  # mnist1d is 1-D: no flip; the authors' aug 2 on images
AUGMENT_SETTINGS = {tier: {key: tier_config(tier, d, aug, models=(AUGMENT_MODEL,))
                           for key, aug in (("none", "none"), ("augmented", AUGMENTATION[tier]))}
                    for tier, d in (("quick", "mnist1d"), ("full", FULL_DATASET))}
CITED = {
    "Figure 1 (CIFAR-5m)": "Real World: 50K samples, 100 epochs; Ideal World: 5M samples, one pass; real test "
                           "soft-error stays close to ideal despite a large generalization gap (verified in the text)",
    "settings (sample_sweep.json)": "SGD lr 0.1, cosine, batch 128, no momentum, no wd, 39,000 batches, N in "
                                    "{5k, 10k, 25k, 50k}, aug 0 or 2, 10 trials (verified in the code)",
}


def _analysis(setting, root) -> dict:
    return analysis(experiment(setting, root).summary)


def _per_model(result, keys) -> dict:
    return {name: {k: m[k] for k in keys} for name, m in result["models"].items()}


# ---- nakkiran2021.real-tracks-ideal ---------------------------------------------------------

def _measure_tracks(setting, root):
    result = _analysis(setting, root)
    per = _per_model(result, ("stopping_time", "stopping_times", "stopping_time_by_rule",
                              "max_abs_bootstrap_before_stop", "at_step", "seed_sd_at_max"))
    return {"per_model": per, "worst": max(m["max_abs_bootstrap_before_stop"] for m in per.values())}


register(Claim(
    id="nakkiran2021.real-tracks-ideal",
    card=CARD,
    cited_from=("read from the paper (Figure 1 and its caption, on its first page) and from the authors' code "
                "(preetum/deep-bootstrap-code, inftrain/sample_sweep.json); the paper's Sections 2-5 were not reached"),
    source="nakkiran2021, Section 3 (main claim) and Figure 1",
    statement=("For every architecture, at every evaluated step t <= T_D(N) (the first step at which the Real World's "
               "train error is below 1%; the authors' train-loss rule is reported beside), the Real World's test soft-error is within epsilon of the Ideal World's "
               "(seed means). A Real World that does not fit within T has T_D > T: every step is then checked."),
    settings=SETTINGS,
    tolerances={
        # epsilon on |mean over 3 trials of (real - ideal) test soft-error|. Before T_D the two worlds differ only
        # by their samples and batch order, so a trial's bootstrap error is noise of seed-to-seed size: the
        # measured seed standard deviation at each model's worst step is 0.014-0.023 at quick, so the mean of 3
        # has a standard error of 0.008-0.014, and the largest of ~35 evaluated steps of such noise is about
        # 2-2.5 of them: 0.03 (measured worst: 0.028, the CNN). The paper's scatter shows points within a few
        # percent of the diagonal.
        "epsilon": 0.03,
    },
    measure=_measure_tracks,
    holds=lambda m, tol: m["worst"] <= tol["epsilon"],
    cited={**CITED, "epsilon": ("points within a few percent of the diagonal (a reading not checked against the "
                                "paper; not verified)")},
))


# ---- nakkiran2021.worlds-separate-after-fit -------------------------------------------------

def _measure_separate(setting, root):
    result = _analysis(setting, root)
    steps = result["steps"]
    per = _per_model(result, ("stopping_time", "stopping_time_by_rule", "bootstrap_error_end", "real_drop_after_stop",
                              "ideal_drop_after_stop", "real_test_soft_error", "ideal_test_soft_error"))
    # a long run: at least as many steps after T_D as before it
    judged = [n for n, m in per.items() if m["stopping_time"] is not None and m["stopping_time"] <= steps / 2]
    return {"steps": steps, "per_model": per, "judged": judged,
            "min_gap_end": min((per[n]["bootstrap_error_end"] for n in judged), default=None),
            "ideal_falls_more": all(per[n]["ideal_drop_after_stop"] > per[n]["real_drop_after_stop"] for n in judged)}


register(Claim(
    id="nakkiran2021.worlds-separate-after-fit",
    card=CARD,
    cited_from=("read from the paper (Figure 1 and its caption, on its first page) and from the authors' code "
                "(preetum/deep-bootstrap-code, inftrain/sample_sweep.json); the paper's Sections 2-5 were not reached"),
    source="nakkiran2021, Section 3 (after the stopping time) and Figure 1",
    statement=("After T_D the worlds separate: for every architecture whose Real World fits by T/2 (so that the run "
               "is long after T_D), the Ideal World's test soft-error falls more after T_D than the Real World's, and "
               "at T the real soft-error exceeds the ideal one by a measured, positive gap (seed means)."),
    settings=SETTINGS,
    tolerances={
        # the gap at T must exceed the noise of a mean of 3 trials' bootstrap errors (standard error 0.006-0.012,
        # see real-tracks-ideal): 0.02 is about two of them, so a gap this large is not sampling noise.
        "min_gap": 0.02,
    },
    measure=_measure_separate,
    holds=lambda m, tol: bool(m["judged"]) and m["min_gap_end"] >= tol["min_gap"] and m["ideal_falls_more"],
    cited=CITED,
))


# ---- nakkiran2021.online-offline-ranking ----------------------------------------------------

def _measure_ranking(setting, root):
    result = _analysis(setting, root)
    per = _per_model(result, ("ideal_test_soft_error", "real_test_error"))
    return {"per_model": per, "n_models": len(per), "tau": result["tau"]}


register(Claim(
    id="nakkiran2021.online-offline-ranking",
    card=CARD,
    cited_from=("read from the paper (Figure 1 and its caption, on its first page) and from the authors' code "
                "(preetum/deep-bootstrap-code, inftrain/sample_sweep.json); the paper's Sections 2-5 were not reached"),
    source="nakkiran2021, Section 4 (good online learners are good offline generalizers), Figure 1",
    statement=("Ranking at least three architectures by Ideal World test soft-error at T (online optimization speed) "
               "gives the same order as ranking them by Real World test error at T: Kendall's tau = 1 (seed means)."),
    settings=SETTINGS,
    tolerances={
        # the same order, exactly: with three models tau takes the values -1, -1/3, 1/3, 1, and any swap is < 1.
        "min_tau": 1.0,
        "min_models": 3,
    },
    measure=_measure_ranking,
    holds=lambda m, tol: m["n_models"] >= tol["min_models"] and m["tau"] >= tol["min_tau"],
    cited={**CITED, "tau": "the paper reports the ranking qualitatively (CNNs beat MLPs in both worlds); no tau "
                           "value (not verified)"},
))


# ---- nakkiran2021.augmentation-acts-on-real -------------------------------------------------

def _measure_augmentation(settings, root):
    none, aug = (_analysis(settings[a], root)["models"] for a in ("none", "augmented"))
    (name,) = none
    steps = settings["none"].train.max_steps
    td_none, td_aug = none[name]["stopping_time"], aug[name]["stopping_time"]
    # a Real World that never fits within T has T_D > T: counted as T, which understates the growth
    factor = None if td_none is None else (td_aug if td_aug is not None else steps) / td_none
    return {"model": name, "augmentation": settings["augmented"].train.augment,
            "stopping_time_none": td_none, "stopping_time_augmented": td_aug, "stopping_time_growth": factor,
            "stopping_time_by_rule_none": none[name]["stopping_time_by_rule"],
            "stopping_time_by_rule_augmented": aug[name]["stopping_time_by_rule"],
            "stopping_time_augmented_clean_samples": aug[name]["stopping_time_clean"],
            "ideal_soft_error_none": none[name]["ideal_test_soft_error"],
            "ideal_soft_error_augmented": aug[name]["ideal_test_soft_error"],
            "ideal_change": abs(aug[name]["ideal_test_soft_error"] - none[name]["ideal_test_soft_error"]),
            "real_soft_error_none": none[name]["real_test_soft_error"],
            "real_soft_error_augmented": aug[name]["real_test_soft_error"]}


register(Claim(
    id="nakkiran2021.augmentation-acts-on-real",
    card=CARD,
    cited_from=("read from the paper (Figure 1 and its caption, on its first page) and from the authors' code "
                "(preetum/deep-bootstrap-code, inftrain/sample_sweep.json); the paper's Sections 2-5 were not reached"),
    source="nakkiran2021, Section 5.1 (data augmentation)",
    statement=("With augmentation (the authors' random crop and horizontal flip on images; crops only on 1-D signals) "
               "the Real World optimizes more slowly, T_D(N) (train error below 1% on the augmented samples, as the "
               "authors measure it) growing by a factor, while the Ideal World's test soft-error at T changes little "
               "(seed means)."),
    settings=AUGMENT_SETTINGS,
    tolerances={
        # T_D must grow by half at least: the seeds' own T_D differ by about 10-20% at quick.
        "min_growth": 1.5,
        # "changes little": within the epsilon of real-tracks-ideal, the noise level of a mean of 3 trials' soft-error.
        "max_ideal_change": 0.03,
    },
    measure=_measure_augmentation,
    holds=lambda m, tol: (m["stopping_time_growth"] is not None and m["stopping_time_growth"] >= tol["min_growth"]
                          and m["ideal_change"] <= tol["max_ideal_change"]),
    cited={**CITED, "Section 5.1": "augmentation mainly slows Real World optimization; the Ideal World changes little "
                                   "(a reading not checked against the paper; numbers not verified)"},
    known_failures={"quick": ("crop (a shift of up to 5 of mnist1d's 40 samples, zero-padded) slows the Real World as "
                              "claimed (T_D 917 without; not reached within T = 2,000 with it, on the augmented samples "
                              "as on the clean ones: growth >= 2.18), but it "
                              "also hurts the Ideal World: its test soft-error at T rises from 0.577 to 0.619 (change "
                              "0.042 > 0.03), because mnist1d's generator already shifts its signals and the padded "
                              "shift moves them off the distribution")},
))
