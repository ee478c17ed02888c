"""The command-line options every tool shares, declared once, and the one way a tool fails.

Each `add_*` helper adds options with one name, type and meaning in every tool:
- `add_data_options`: `--dataset` (a registered data set, or one of those a tool accepts),
  `--n-train`, `--n-test` (positive ints; default the whole split, or the tier's), `--data-dir`;
- `add_max_steps_option`: `--max-steps`, the step budget (`TrainConfig.max_steps`);
- `add_model_option`: `--model` (a registered model);
- `add_seeds_option`: `--seeds`, a comma-separated list of distinct non-negative seeds (`0,1,2`);
- `add_device_option`: `--device` (auto, cpu, cuda, cuda:N; checked by `TrainConfig`);
- `add_tier_option`: `--tier` (`empirical.tiers.TIERS`);
- `add_out_option`: `--out`, the record root (default None: `empirical.records.default_root()`,
  `$GENPROOF_CACHE` or the user's cache folder, the same in every tool);
- `add_force_option`: `--force`;
- `add_log_option`: `--log tensorboard|mlflow` and `--log-dir`, a copy of the records in a tracker
  (`log_entries`; `run_report` does it for the tools that write one report record).

A bad value is refused in one line with exit status 2: by argparse for what its `type=` and
`choices=` check, and by `run_command` for what the command itself finds wrong (a `ValueError`,
missing or broken data, a damaged record, a file-system fault), printed as `error: ...`.

    parser = new_parser("python -m empirical.tool", __doc__, epilog=listing({"data sets": DATASETS}))
    add_data_options(parser)
    args = parser.parse_args(argv)
    return run_command(lambda: work(args))
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Mapping

from empirical import trackers
from empirical.data import DATASETS, DataNotFoundError
from empirical.models import MODELS, is_factory, parse_spec
from empirical.records import Record, default_root
from empirical.registry import Registry
from empirical.tiers import TIERS
from empirical.trackers import TRACKERS, Entry


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative int, got {text!r}")
    return value


def seed_list(text: str) -> tuple[int, ...]:
    """argparse type: a comma-separated list of distinct non-negative seeds, `0,1,2` -> (0, 1, 2)."""
    try:
        seeds = tuple(non_negative_int(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of non-negative ints such as 0,1,2, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"must be distinct seeds, got {text!r}")
    return seeds


def rate_list(text: str) -> tuple[float, ...]:
    """argparse type: a comma-separated list of rates in [0, 1), `0,0.1,0.2` -> (0.0, 0.1, 0.2)."""
    try:
        rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        rates = ()
    if not rates or not all(0 <= r < 1 for r in rates):
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of rates in [0, 1) such as 0,0.2,0.4, "
                                         f"got {text!r}")
    return rates


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def open_unit_interval(text: str) -> float:
    """argparse type: a float strictly between 0 and 1 (a confidence parameter delta)."""
    value = _float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int, got {text!r}") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def new_parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A parser that prints `description` and `epilog` (a `listing`) with their line breaks."""
    return argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def listing(sections: Mapping[str, Registry]) -> str:
    """What can be chosen: under each heading, one line per entry of its registry (`describe()`)."""
    return "\n\n".join(f"{heading}:\n{registry.describe()}" for heading, registry in sections.items())


def add_data_options(parser: argparse.ArgumentParser, dataset: str = "digits", choices: Iterable[str] | None = None,
                     sizes: str = "the whole split") -> None:
    """`--dataset`, `--n-train`, `--n-test`, `--data-dir`. `choices`: the registered data sets the
    tool accepts (default: every one); `sizes`: what `--n-train` and `--n-test` default to."""
    names = DATASETS.names() if choices is None else tuple(DATASETS.check(name) for name in choices)
    parser.add_argument("--dataset", choices=names, default=dataset, metavar="NAME",
                        help=f"data set: {', '.join(names)} (default %(default)s)")
    parser.add_argument("--n-train", type=positive_int, metavar="N", help=f"training examples (default: {sizes})")
    parser.add_argument("--n-test", type=positive_int, metavar="N", help=f"test examples (default: {sizes})")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where the data set's files are (else $GENPROOF_DATA, system folders, download)")


def add_model_option(parser: argparse.ArgumentParser, default: str | None, help: str = "default %(default)s",
                     factories: bool = False) -> None:
    """`--model SPEC`, the one model syntax of every tool (`empirical.models.parse_spec`): a registered
    model's name, or its name and size (`mlp:3x128`, `cnn:16`); with `factories`, also a factory
    `package.module:function`."""
    kinds = f"{', '.join(MODELS.names())}, or a size: mlp:DEPTHxWIDTH, cnn:CHANNELS"
    if not factories:
        parser.add_argument("--model", type=_registered_spec, default=default, metavar="SPEC",
                            help=f"model: {kinds} ({help})")
        return
    parser.add_argument("--model", type=model_spec, default=default, metavar="SPEC|MODULE:FUNCTION",
                        help=f"model: {kinds}; or your factory package.module:function called as "
                             f"function(input_shape, num_classes) -> nn.Module ({help})")


def _registered_spec(text: str) -> str:
    try:
        parse_spec(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def model_spec(text: str) -> str:
    """argparse type: a registered model's spec (`parse_spec`), or a factory `package.module:function`."""
    module, sep, attr = text.partition(":")
    if is_factory(text) and module and attr:
        return text
    return _registered_spec(text)


def add_max_steps_option(parser: argparse.ArgumentParser, help: str = "default: the tier's") -> None:
    """`--max-steps T`, a positive step budget (`empirical.train.TrainConfig.max_steps`)."""
    parser.add_argument("--max-steps", type=positive_int, metavar="T", help=f"step budget ({help})")


def add_seeds_option(parser: argparse.ArgumentParser, default: str | None = "0") -> None:
    """`--seeds`; `default` None: the tool's preset decides (the tier's seeds)."""
    shown = "the tier's" if default is None else default
    parser.add_argument("--seeds", type=seed_list, default=None if default is None else seed_list(default),
                        metavar="S,S,...", help=f"comma-separated list of non-negative seeds, one run each "
                                                f"(default {shown})")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default auto)")


def add_tier_option(parser: argparse.ArgumentParser, help: str = "") -> None:
    parser.add_argument("--tier", choices=TIERS, default="quick",
                        help=f"{help + '; ' if help else ''}default %(default)s")


def add_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help=f"record root: where runs are cached and written (default $GENPROOF_CACHE, else the "
                             f"user's cache folder; here {default_root()})")


def add_log_option(parser: argparse.ArgumentParser) -> None:
    """`--log tensorboard|mlflow` and `--log-dir DIR`: copy the tool's records to a tracker (`empirical.trackers`)."""
    parser.add_argument("--log", choices=TRACKERS, metavar="TRACKER",
                        help="also copy the results to TensorBoard's event files or MLflow's local file store "
                             "(pip install genproof[tensorboard] or genproof[mlflow]); the records stay the source of "
                             "truth, and a failure to log is a warning")
    parser.add_argument("--log-dir", type=Path, metavar="DIR",
                        help="where --log writes (default: tensorboard/ or mlruns/ under the record root)")


def log_entries(args: argparse.Namespace, entries: Iterable[Entry]) -> None:
    """Copy `entries` to the tracker `--log` names (nothing without it), printing where each went;
    a failure is a `TrackerWarning` on stderr, never an error."""
    if not getattr(args, "log", None):
        return
    to = args.log_dir or Path(args.out or default_root()) / ("tensorboard" if args.log == "tensorboard" else "mlruns")
    for entry in entries:
        where = trackers.log(entry, args.log, to)
        if where is not None:
            print(f"logged to {args.log}: {entry.name} -> {where if args.log == 'tensorboard' else f'{to}, run {where}'}")


def add_force_option(parser: argparse.ArgumentParser, help: str = "compute again even where the record root has the run") -> None:
    parser.add_argument("--force", action="store_true", help=help)


def with_sizes(data, args: argparse.Namespace):
    """`data` (an `empirical.fit.DataConfig`) with the `--n-train` / `--n-test` the command line gave
    (those it did not give, or a tool that has no such option, keep the preset's)."""
    sizes = {k: v for k in ("n_train", "n_test") if (v := getattr(args, k, None)) is not None}
    return replace(data, **sizes) if sizes else data


def where(record: Record, files: str = "") -> str:
    """The line a tool ends with: where its record was written, or, for a record served from the
    store, that nothing was recomputed, by which code it was made and how to make it again."""
    if not record.cached:
        return f"written: {record.path}{files}"
    made = record.config.get("versions", {}).get("commit") or "an unknown commit"
    return f"from the cache, nothing recomputed: {record.path}{files}, made by {made}; --force computes it again"


def run_report(make: Callable[[], Record], markdown: Callable[[dict], str], written: str = "",
               args: argparse.Namespace | None = None) -> int:
    """The end of a tool that writes a report record: `make()` it, print `markdown(summary)` and
    where it was written (`written`: what to add, the figure's name, say), copy it to the tracker
    `args.log` names (`add_log_option`), with errors as in `run_command`."""

    def command() -> int:
        record = make()
        print(markdown(record.summary))
        print(where(record, written))
        if args is not None:
            log_entries(args, [trackers.from_record(record)])
        return 0

    return run_command(command)


class Terminated(BaseException):
    """SIGTERM (how schedulers stop a job), raised where the process is, so that it cleans up."""


def run_command(command: Callable[[], int]) -> int:
    """`command()`, failing in one line on stderr instead of a traceback:
    - a `ValueError` (a bad value, broken data, a damaged record) or missing data: `error: ...`, status 2;
    - a file-system fault (read-only, not a folder, disk full): `error: ...` naming the path and the fix, status 2;
    - Ctrl-C or SIGTERM: one line saying what was kept, status 130 or 143."""
    previous = _on_sigterm()
    try:
        return command()
    except (ValueError, DataNotFoundError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as err:
        print(f"{'interrupted' if isinstance(err, KeyboardInterrupt) else 'terminated'}: the runs that finished are "
              f"kept in the record store; the same command resumes from them", file=sys.stderr)
        return 130 if isinstance(err, KeyboardInterrupt) else 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_sigterm():
    def terminate(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        return None


def os_error_line(err: OSError) -> str:
    """A file-system fault in one line: the path, what is wrong and what to do."""
    path = err.filename or "the record store"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left to write {path}: free space there, or choose another folder (--out)"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {path} ({err.strerror}): make it writable, or choose another folder (--out, --ledger)"
    if err.errno in (errno.EEXIST, errno.ENOTDIR):
        return f"{path} is a file where a folder is needed: choose a folder (--out, --ledger), or move the file"
    return f"{err.strerror or err}: {path}"
