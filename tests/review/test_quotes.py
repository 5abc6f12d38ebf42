from glasscoder.review.quotes import locate, squash

LINES = [
    "def mid(xs):",
    "    lo, hi = 0, len(xs)",
    "",
    "    while lo <= hi:  # loop",
    "        m = (lo + hi) // 2",
    "        if xs[m] < 0:",
    "            lo = m + 1",
    "    return lo",
]


def test_squash_drops_all_whitespace() -> None:
    assert squash("  a  =\tb \n") == "a=b"


def test_the_named_line_matches_regardless_of_spacing() -> None:
    assert locate("while lo<=hi:  # loop", LINES, 4) == 4


def test_a_drifted_line_number_is_corrected_within_the_window() -> None:
    assert locate("m = (lo + hi) // 2", LINES, 3) == 5
    assert locate("m = (lo + hi) // 2", LINES, 7) == 5


def test_too_far_away_or_not_in_the_file_is_not_found() -> None:
    assert locate("return lo", LINES, 1) is None  # 7 lines away
    assert locate("return hi", LINES, 8) is None
    assert locate("", LINES, 1) is None
    assert locate("   ", LINES, 1) is None


def test_a_long_enough_part_of_a_line_counts_but_a_short_one_does_not() -> None:
    assert locate("while lo <= hi:", LINES, 4) == 4  # the comment left out
    assert locate("lo", LINES, 2) is None  # too short to pin a line


def test_a_multiline_quote_matches_consecutive_lines_skipping_blanks() -> None:
    assert locate("lo, hi = 0, len(xs)\nwhile lo <= hi:  # loop", LINES, 2) == 2
    assert locate("lo, hi = 0, len(xs)\nreturn lo", LINES, 2) is None


def test_the_nearest_match_wins_when_a_line_repeats() -> None:
    lines = ["x = 1", "y = 2", "x = 1", "z = 3", "x = 1"]
    assert locate("x = 1", lines, 4) == 3  # 3 is tried before 5
    assert locate("x = 1", lines, 2) == 1
