"""Step time of nakkiran2021's two worlds through the one training loop, in one run: the Real World's
resident walk (`empirical.worlds.real_source`), our Ideal World stream (`ideal_stream`: fresh examples
drawn once, resident on the device, handed out B at a time) and the naive Ideal World
(`fresh_samples` below: the generator called for every minibatch; procedural sets only).

The same freshly initialised network, the same SGD steps and batch size in every arm; no evaluation
but one at the end. Reported: milliseconds per step of each (best of `--repeats`), the ratio of
our fresh source to the resident one (the target: at most 1.2), and the one-time cost of
drawing the fresh examples, which ours pays before the run and the naive stream pays step by step.

    python benchmarks/bootstrap_sources.py [--steps 300] [--repeats 3] [--device auto] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the device and versions.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch

from empirical import worlds as worlds_module
from empirical.batches import Batch, Stream
from empirical.data import SAMPLABLE, sample
from empirical.data.sampling import derive_seed
from empirical.models import ModelConfig, build
from empirical.train import TrainConfig, resolve_device, train
from empirical.worlds import WorldsData, draw, ideal_stream, real_source
from results import publish  # benchmarks/results.py, beside this script

CASES = [  # (data set, model, batch, augmentation)
    ("mnist1d", ModelConfig("mlp", width=128, depth=3), 32, "none"),
    ("mnist1d", ModelConfig("cnn", channels=16), 32, "crop"),
    ("fashion-mnist", ModelConfig("mlp", width=128, depth=3), 128, "none"),
]



def fresh_samples(name: str, batch_size: int, seed: int, chunk: int = 256) -> Stream:
    """A `Stream` of `batch_size` fresh examples per step from the distribution of the procedural
    data set `name` (`empirical.data.SAMPLABLE`). Speed: the generator is called once per `chunk`
    batches (chunk j is `sample(name, chunk * batch_size, seed=s_j)`, s_j derived from (seed, j))
    and the batches are slices of it, so the stream is seeded, no example repeats, and its batches
    are independent of `load`'s splits. The generator's cost is per example (mnist1d: about 0.2 ms
    an example on a 2-core CPU), so when the whole stream is known in advance, drawing it once, as
    `empirical.worlds` does for the Deep Bootstrap, keeps it out of the training time: this stream is
    the naive arm this benchmark compares with it."""
    if name not in SAMPLABLE:
        raise ValueError(f"fresh samples need a procedural data set ({', '.join(SAMPLABLE)}), got {name!r}")
    held: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def draw(k: int) -> Batch:
        j, i = divmod(k, chunk)
        if j not in held:
            held.clear()
            held[j] = sample(name, chunk * batch_size, seed=derive_seed("stream", seed, j))
        x, y = held[j]
        return x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]

    return Stream(draw)

def timed(source_of, model_config, worlds, steps, batch, augmentation, device) -> float:
    """Seconds per step of `steps` SGD steps on the source `source_of()` builds."""
    config = TrainConfig(optimizer="sgd", lr_schedule="cosine", lr=0.1, momentum=0.0, batch_size=batch, max_steps=steps,
                         stop_at_fit=False, eval_at=(steps,), augment=augmentation, device=str(device), progress=False)
    model = build(model_config, worlds.input_shape, worlds.num_classes, seed=0)
    source = source_of()
    start = time.perf_counter()
    train(model, source, config, seed=0)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rows = []
    for name, model, batch, aug in CASES:
        worlds_module._sampled.cache_clear()  # time the draw itself, not the cache
        start = time.perf_counter()
        worlds = draw(WorldsData(name, n_train=1000, n_test=100), args.steps * batch, seed=0)
        draw_s = time.perf_counter() - start
        arms = {"resident": lambda: real_source(worlds, batch, aug, 0, device),
                "fresh (ours)": lambda: ideal_stream(worlds, batch, aug, 0, device)}
        if name in ("mnist1d", "teacher", "gaussian-mixture") and aug == "none":
            arms["fresh_samples (naive)"] = lambda: fresh_samples(name, batch, seed=0)
        best = {arm: min(timed(make, model, worlds, args.steps, batch, aug, device) for _ in range(args.repeats))
                for arm, make in arms.items()}
        naive = best.get("fresh_samples (naive)")
        label = f"{model.name} {model.depth}x{model.width}" if model.name == "mlp" else f"{model.name} {model.channels}"
        rows.append(f"| {name} | {label} | {batch} | {aug} | {1e3 * best['resident']:.2f} | "
                    f"{1e3 * best['fresh (ours)']:.2f} | {best['fresh (ours)'] / best['resident']:.2f} | "
                    f"{'n/a' if naive is None else f'{1e3 * naive:.2f}'} | {draw_s:.1f} |")
        print(rows[-1], flush=True)
    threads = torch.get_num_threads()
    where = f"{device.type.upper()} ({threads} threads)" if device.type == "cpu" else torch.cuda.get_device_name(device)
    text = "\n".join([
        f"## Deep Bootstrap batch sources, {datetime.date.today()}, {where}, torch {torch.__version__}, "
        f"python {platform.python_version()}", "",
        f"{args.steps} SGD steps per run, best of {args.repeats}; ms per step. ratio = fresh (ours) / resident (the "
        f"the target: 1.2). naive: the generator called every step (mnist1d without augmentation only). draw: "
        f"seconds to draw N = 1,000 real and steps x batch fresh examples once, before our runs.", "",
        "| data | model | batch | augment | resident (ms/step) | fresh, ours (ms/step) | ratio | fresh_samples, naive "
        "(ms/step) | draw (s) |", "|---|---|---|---|---|---|---|---|---|", *rows, ""])
    publish(text, args.write)


if __name__ == "__main__":
    main()
