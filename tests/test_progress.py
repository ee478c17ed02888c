"""Progress off a terminal: a first line with the estimate after a warm-up, then a line every 30 s,
an "at most" estimate where the work may stop early, and nothing when told to be quiet."""

import io

import pytest
import torch

from empirical import progress as progress_module
from empirical.progress import Progress, progress
from empirical.train import TrainConfig, train


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def progress_env(monkeypatch):
    """What progress=None means outside pytest (the plugin turns the lines off for its session)."""
    monkeypatch.delenv(progress_module.ENV, raising=False)


def test_lines_off_a_terminal_estimate_the_time_left_from_the_rate_so_far():
    log, clock = io.StringIO(), Clock()
    p = Progress(1000, "train", "step", None, stream=log, clock=clock)

    def steps(k):
        for _ in range(k):
            clock.now += 0.125  # 8 steps a second
            p.update()

    steps(79)  # 79 steps in 9.9 s: the warm-up, no line yet
    assert log.getvalue() == "" and p.mode == "lines"
    steps(1)  # at 10 s the first line: 80 steps, 920 left at 8 a second = 115 s
    assert log.getvalue() == "train: 80/1,000 steps after 10 s (8 steps/s); about 1.9 min left\n"
    p.set_postfix({"loss": "0.500"})
    steps(239)  # the next line is due 30 s later, not before
    assert log.getvalue().count("\n") == 1
    steps(1)
    assert log.getvalue().splitlines()[-1] == "train: 320/1,000 steps after 40 s (8 steps/s); about 85 s left, loss 0.500"
    p.close()
    assert log.getvalue().splitlines()[-1] == "train: done, 320 steps in 40 s"


def test_work_that_may_stop_early_gives_an_upper_estimate_and_says_why():
    log, clock = io.StringIO(), Clock()
    p = Progress(10_000, "train", "step", None, stops_early="stops at 100% train accuracy", stream=log, clock=clock)
    clock.now = 10.0
    p.update(100)  # 10 steps a second, 9,900 left: 990 s
    assert "at most 16.5 min left (stops at 100% train accuracy)" in log.getvalue()


def test_quiet_means_nothing_and_a_short_run_prints_nothing():
    log, clock = io.StringIO(), Clock()
    quiet = Progress(10, "train", "step", False, stream=log, clock=clock)
    clock.now = 100.0
    quiet.update(10)
    quiet.close()
    short = Progress(10, "runs", "run", None, stream=log, clock=clock)
    short.update(10)
    short.close()
    assert log.getvalue() == "" and quiet.mode == "off"


def test_the_training_loop_reports_through_it(monkeypatch, capsys):
    monkeypatch.setattr(progress_module, "FIRST_LINE_S", 0.0)  # every step is past the warm-up
    monkeypatch.setattr(progress_module, "EVERY_S", 0.0)
    x, y = torch.randn(64, 5), torch.randint(0, 2, (64,))
    train(torch.nn.Linear(5, 2), (x, y), TrainConfig(lr=0.1, batch_size=32, max_steps=3, stop_at_fit=False))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" after ")[0] for line in lines[:3]] == ["train: 1/3 steps", "train: 2/3 steps", "train: 3/3 steps"]
    assert lines[-1].startswith("train: done, 3 steps in ")
    assert list(progress(range(3), "runs", "run", progress=False)) == [0, 1, 2]


def test_the_environment_chooses_what_none_means(monkeypatch):
    log, clock = io.StringIO(), Clock()
    monkeypatch.setenv(progress_module.ENV, "off")
    assert Progress(10, "train", stream=log, clock=clock).mode == "off"
    assert Progress(10, "train", progress=True, stream=log, clock=clock).mode == "bar"  # asked for, shown
    monkeypatch.setenv(progress_module.ENV, "loud")
    with pytest.raises(ValueError, match="GENPROOF_PROGRESS must be bar, lines or off"):
        Progress(10, "train", stream=log, clock=clock)


def test_units_are_counted_in_plain_english():
    assert [progress_module.plural(u) for u in ("step", "quantity", "run", "day", "seed")] == [
        "steps", "quantities", "runs", "days", "seeds"]
