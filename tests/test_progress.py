import logging
import math

import pytest

from fedmix.progress import (
    RoundProgress,
    format_duration,
    format_round,
    report_every,
    reported_rounds,
)


def test_report_every_gives_about_twenty_lines():
    assert report_every(2) == 1 and report_every(20) == 1
    assert report_every(64) == 4 and report_every(300) == 15


def test_reported_rounds_first_every_nth_and_last():
    assert reported_rounds(0, 10, 4) == [1, 4, 8, 10]
    assert reported_rounds(5, 10, 4) == [6, 8, 10]  # resumed after round 5
    assert reported_rounds(0, 2, 1) == [1, 2]


def test_format_round_shows_losses_weights_dice_and_times():
    line = format_round(
        12, 64, {"bus": 0.4123, "udiat": math.nan}, {"bus": 0.25, "udiat": 0.0},
        0.5124, (0.53, 9), 41.0, 178.4,
    )  # fmt: skip
    assert line == (
        "round 12/64 | loss bus 0.412 udiat - | w bus 0.25 udiat 0.00 | "
        "val Dice 0.512 (best 0.530, round 9) | 0:00:41 elapsed, ETA 0:02:58"
    )
    assert format_duration(math.inf) == "?"


def test_not_a_terminal_logs_one_line_per_reported_round(caplog):
    now = [0.0]
    progress = RoundProgress(0, 10, "run", interactive=False, every=4, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="fedmix.train"):
        for rnd in range(1, 11):
            now[0] += 10.0  # each round takes 10 s
            progress.update(rnd, {"a": 0.5}, {"a": 1.0}, 0.1 * rnd, (0.1 * rnd, rnd))
        wall = progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" |")[0] for line in lines] == [
        "round 1/10", "round 4/10", "round 8/10", "round 10/10",
    ]  # fmt: skip
    assert lines[0].endswith("0:00:10 elapsed, ETA 0:01:30")  # 10 s per round, 9 to go
    assert wall == pytest.approx(100)
    assert all("\r" not in line for line in lines)
