"""The tiers an experiment and a claim run at: `quick` (the CPU, small data, runs in CI) and
`full` (the published setting as closely as the hardware allows, on a GPU). A tier changes
sizes, never the check.

One shape for what a tier means: every experiment module (and tool) that has presets has a
function `tier_config(tier, dataset, ...)` that starts with `check(tier)` and returns the
experiment's config at that tier; every tool takes `--tier` (`empirical.cli.add_tier_option`);
a claim's `settings` name one setting per tier.
"""

TIERS = ("quick", "full")


def check(tier: str) -> str:
    """`tier` if it names a tier, else a ValueError that lists them."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
    return tier
