"""Every registered claim as a test, at the tier of `--tier` (the `genproof` pytest plugin's
option): a claim that does not hold fails its test with its measured numbers, unless the claim
records that it is known not to hold at that tier (then it is a strict expected failure: if it
starts holding, the test fails). A claim whose data set is not installed skips, saying what to install. Collected by this repository's suite, by `pytest --pyargs
genproof`, and by any test module that imports `test_claim`."""

import pytest

from empirical.data import DataNotFoundError
from genproof.claims import all_claims


@pytest.mark.claims
@pytest.mark.parametrize("claim", [pytest.param(c, id=c.id) for c in all_claims()])
def test_claim(claim, tier, claims_root, record_verdict, request):
    if tier in claim.known_failures:
        request.applymarker(pytest.mark.xfail(strict=True, reason=claim.known_failures[tier]))
    try:
        verdict = claim.check(tier, claims_root)
    except DataNotFoundError as err:  # optional data, not installed here: say what to install
        pytest.skip(f"data not installed: {err}")
    record_verdict(verdict)
    assert verdict.holds, verdict.explain()
