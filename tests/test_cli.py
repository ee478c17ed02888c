"""The shared command-line options (`empirical.cli`): one parser per option, one meaning in every
tool, and a bad value refused in one line with exit status 2, never a traceback."""

import argparse
import json

import pytest

from empirical import cli, randomization
from empirical.data import DATASETS, DataNotFoundError
from empirical.models import MODELS
from empirical.tiers import TIERS
from genproof import __main__ as console
from genproof import bootstrap, bounds
from genproof.claims import __main__ as claims_cli


def test_seeds_are_a_comma_separated_list_of_distinct_non_negative_ints():
    assert cli.seed_list("0") == (0,)
    assert cli.seed_list("0,1,2") == (0, 1, 2)
    assert cli.seed_list(" 3, 7 ") == (3, 7)
    for bad in ("a,b", "", "1,", "-1", "1.5", "0,0"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.seed_list(bad)


@pytest.mark.parametrize("parse, good, bad", [
    (cli.positive_int, {"1": 1, "250": 250}, ("0", "-5", "2.5", "x")),
    (cli.non_negative_int, {"0": 0, "7": 7}, ("-1", "x")),
    (cli.positive_float, {"0.1": 0.1, "3": 3.0}, ("0", "-1", "inf", "nan", "x")),
    (cli.open_unit_interval, {"0.05": 0.05}, ("0", "1", "2", "nan", "x")),
])
def test_number_types(parse, good, bad):
    assert {text: parse(text) for text in good} == good
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            parse(text)


def test_shared_options_take_their_choices_from_the_registries():
    parser = argparse.ArgumentParser()
    cli.add_data_options(parser)
    cli.add_model_option(parser, "mlp")
    cli.add_seeds_option(parser)
    cli.add_device_option(parser)
    cli.add_tier_option(parser)
    cli.add_out_option(parser)
    cli.add_force_option(parser)
    args = parser.parse_args([])
    assert (args.dataset, args.model, args.seeds, args.tier, args.out, args.force) == ("digits", "mlp", (0,), "quick",
                                                                                      None, False)
    choices = {a.dest: a.choices for a in parser._actions if a.choices}
    assert choices == {"dataset": DATASETS.names(), "tier": TIERS}
    # the model is a spec read against the registry: every registered name, or a name and its size
    assert all(parser.parse_args(["--model", name]).model == name for name in MODELS.names())
    assert parser.parse_args(["--model", "mlp:3x128"]).model == "mlp:3x128"


def test_a_tool_may_accept_some_of_the_registered_data_sets():
    parser = argparse.ArgumentParser()
    cli.add_data_options(parser, dataset="teacher", choices=("teacher", "digits"), sizes="the tier's")
    assert parser.parse_args([]).dataset == "teacher"
    assert {a.dest: a.choices for a in parser._actions if a.choices} == {"dataset": ("teacher", "digits")}
    assert "(default: the tier's)" in parser.format_help()
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        cli.add_data_options(argparse.ArgumentParser(), choices=("nope",))


def test_listing_shows_every_entry_under_its_heading():
    text = cli.listing({"data sets": DATASETS, "models": MODELS})
    assert text.startswith("data sets:\n") and "\n\nmodels:\n" in text
    assert all(name in text for name in DATASETS.names() + MODELS.names())


def test_run_command_turns_value_and_data_errors_into_one_line(capsys):
    def fails(err):
        def command():
            raise err
        return command

    assert cli.run_command(lambda: 0) == 0
    assert cli.run_command(fails(ValueError("n_train must be\n  positive"))) == 2
    assert capsys.readouterr().err == "error: n_train must be positive\n"
    assert cli.run_command(fails(DataNotFoundError("cifar10: nothing in /x"))) == 2
    assert capsys.readouterr().err == "error: cifar10: nothing in /x\n"
    with pytest.raises(KeyError):  # a bug is not an input error: it keeps its traceback
        cli.run_command(fails(KeyError("x")))


BAD_ARGUMENTS = [
    (["--n-train", "-5"], "argument --n-train: must be a positive int, got '-5'"),
    (["--n-test", "0"], "argument --n-test: must be a positive int, got '0'"),
    (["--dataset", "nope"], "argument --dataset: invalid choice: 'nope'"),
    (["--model", "nope"], "argument --model: "),
    (["--tier", "huge"], "argument --tier: invalid choice: 'huge'"),
]


def _refused(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS + [
    (["--model", "nope"], "bad model 'nope': write mlp:DEPTHxWIDTH (mlp:3x128), cnn:CHANNELS (cnn:16) or a model name"),
    (["--model", "mlp:3"], "bad model 'mlp:3': write mlp:DEPTHxWIDTH"),
    (["--model", "resnet18:4"], "resnet18 takes no size"),
    (["--delta", "2"], "argument --delta: must be a number in (0, 1), got '2'"),
    (["--seed", "-1"], "argument --seed: must be a non-negative int, got '-1'"),
])
def test_bounds_refuses_bad_arguments_by_name(argv, message, capsys):
    assert message in _refused(bounds.main, argv, capsys)


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS + [
    (["--seeds", "a,b"], "argument --seeds: must be a comma-separated list of non-negative ints"),
    (["--seeds", "0,0"], "argument --seeds: must be distinct seeds"),
    (["--max-steps", "0"], "argument --max-steps: must be a positive int"),
    (["--lr", "-0.1"], "argument --lr: must be a positive number"),
])
def test_randomization_refuses_bad_arguments_by_name(argv, message, capsys):
    assert message in _refused(randomization.main, argv, capsys)


@pytest.mark.parametrize("argv, message", [
    (["--n-train", "-5"], "argument --n-train: must be a positive int, got '-5'"),
    (["--n-test", "0"], "argument --n-test: must be a positive int, got '0'"),
    (["--dataset", "digits"], "argument --dataset: invalid choice: 'digits'"),  # no fresh samples: not a distribution
    (["--max-steps", "0"], "argument --max-steps: must be a positive int"),
    (["--steps", "10"], "unrecognized arguments: --steps 10"),
    (["--augment", "flip"], "argument --augment: invalid choice: 'flip'"),
    (["--seeds", "0,0"], "argument --seeds: must be distinct seeds"),
    (["--tier", "huge"], "argument --tier: invalid choice: 'huge'"),
])
def test_bootstrap_refuses_bad_arguments_by_name(argv, message, capsys):
    assert message in _refused(bootstrap.main, argv, capsys)


def test_claims_and_the_console_script_share_the_options(capsys):
    assert "argument --tier: invalid choice: 'huge'" in _refused(claims_cli.main, ["--tier", "huge"], capsys)
    assert "argument --seeds" in _refused(console.main, ["randomization", "--seeds", "x"], capsys)
    assert console.main(["nope"]) == 2
    assert "genproof {bounds,claims,rrm,bootstrap,coherence,study,randomization,runs}" in capsys.readouterr().err


@pytest.mark.parametrize("main", [bounds.main, randomization.main])
@pytest.mark.parametrize("argv, message", [
    (["--n-train", "5000"], "error: n_train=5000 but 'digits' has 1437 train examples"),
    (["--device", "gpu"], "error: device must be auto, cpu, cuda or cuda:N, got 'gpu'"),
])
def test_what_the_command_finds_wrong_is_one_line_with_status_2(main, argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not list(tmp_path.glob("*-*"))  # nothing half-written


def test_randomization_seeds_list_the_runs_and_out_defaults_to_the_record_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENPROOF_CACHE", str(tmp_path))
    argv = ["--n-train", "50", "--n-test", "20", "--model", "mlp:1x16", "--max-steps", "20", "--kinds", "true"]
    assert randomization.main([*argv, "--seeds", "2,5"]) == 0
    (sweep,) = tmp_path.glob("randomization-*")
    summary = json.loads((sweep / "summary.json").read_text())
    assert list(summary["results"]["true"]) == ["2", "5"]
    assert len(list(tmp_path.glob("fit-*"))) == 2
    config = json.loads((sweep / "config.json").read_text())["config"]
    assert config["seeds"] == [2, 5]
    # the default is the one seed 0, the runs `--seeds 1` gave when it was a count
    assert randomization.main(argv) == 0
    assert len(list(tmp_path.glob("fit-*"))) == 3
    assert capsys.readouterr().err == ""


def test_a_report_read_from_the_store_says_nothing_was_recomputed(tmp_path, capsys):
    from empirical.records import cached_run

    def make():
        return cached_run(tmp_path, "toy", {"n": 1}, lambda out: {"value": 1.0})

    assert cli.run_report(make, lambda s: f"value {s['value']}", " (summary.json)") == 0
    first = capsys.readouterr().out.splitlines()
    (run,) = tmp_path.glob("toy-*")
    assert first == ["value 1.0", f"written: {run} (summary.json)"]
    assert cli.run_report(make, lambda s: f"value {s['value']}", " (summary.json)") == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0] == "value 1.0" and again[1].startswith(f"from the cache, nothing recomputed: {run} (summary.json), made by ")
    assert again[1].endswith("--force computes it again")
