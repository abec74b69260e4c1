import pandas as pd

from schemas.npns import canonical_npn, canonical_npns


def test_leading_zeros_are_stripped_from_an_all_digit_npn():
    assert canonical_npn("048905991") == "48905991"
    assert canonical_npn(" 0012 ") == "12"
    assert canonical_npn("48905991") == "48905991"


def test_values_that_are_not_npns_are_left_for_validation_to_refuse():
    assert canonical_npn("000") == "000"
    assert canonical_npn("12a") == "12a"
    assert canonical_npn("") == ""
    assert canonical_npn("０12") == "０12"  # full-width digits are not NIPR's


def test_a_column_keeps_its_missing_values():
    column = pd.Series(["007", None, "7"], dtype=object)
    assert canonical_npns(column).tolist() == ["7", None, "7"]
