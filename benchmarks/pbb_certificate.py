"""The PAC-Bayes-by-backprop certificate on a data set, with its time (the target: Fashion-MNIST,
the full 60,000 training images, on the CPU, in under 15 minutes).

In a fresh record root, `empirical.pbb.train_posteriors` and `genproof.pac_bayes.backprop.certify`
with the given settings (default: PBB's 3x600 MLP, a prior learned on half the training set,
fquad); reported: the certificate, Q's error
on the bound set and on the test set, the deterministic mean network's and the prior network's test
error, KL, n, the confidences, and the seconds of each stage. One run, as one user would run it.

    python benchmarks/pbb_certificate.py [--dataset fashion-mnist] [--prior data-dependent]
        [--width 600] [--depth 3] [--threads T] [--write]

`--write` appends the table to benchmarks/RESULTS.md with the machine and versions.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from empirical.fit import DataConfig
from empirical.models import ModelConfig
from empirical.pbb import PRIORS, PBBConfig, stages, train_posteriors
from genproof.pac_bayes.backprop import certify
from results import publish  # benchmarks/results.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--prior", default="data-dependent", choices=PRIORS)
    parser.add_argument("--model", default="mlp", choices=("mlp", "cnn"))
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--prior-epochs", type=int, default=20)
    parser.add_argument("--posterior-epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--write", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = PBBConfig(DataConfig(args.dataset, data_dir=args.data_dir),
                       ModelConfig(args.model, width=args.width, depth=args.depth),
                       prior=args.prior, **stages(args.prior_epochs, args.posterior_epochs))
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        s = certify(train_posteriors(config, root))
        wall = time.perf_counter() - start
    rows = [("certificate on Q's test error", s["bound"]),
            ("holds with probability", f"{s['confidence']:.3f} (delta {s['delta']}, delta_mc {s['delta_mc']})"),
            ("Q's error on the bound set (Monte Carlo)", s["stochastic_bound_set_error"]),
            ("its upper confidence bound", s["stochastic_bound_set_error_upper"]),
            ("Q's test error (Monte Carlo)", s["stochastic_test_error"]),
            ("mean network's test error", s["mean_network_test_error"]),
            ("prior network's test error", s["prior_test_error"]),
            ("KL(Q||P) (nats)", s["kl"]), ("n (bound set) / prior set / weights", f"{s['n_bound']} / {s['n_prior']} / "
                                                                                  f"{s['n_weights']}"),
            ("prior scale", s["prior_sigma"]),
            ("seconds: prior / posterior / sampling Q / whole run",
             f"{s['prior_train_s']:.0f} / {s['posterior_train_s']:.0f} / {s['sampling_s']:.0f} / {wall:.0f}")]
    fmt = (lambda v: f"{v:.4f}" if isinstance(v, float) else str(v))
    model = f"{args.model} {args.width}x{args.depth}" if args.model == "mlp" else args.model
    lines = [f"\n## PAC-Bayes by backprop certificate, {time.strftime('%Y-%m-%d')}, CPU "
             f"({torch.get_num_threads()} threads, {platform.processor() or platform.machine()}), torch "
             f"{torch.__version__}, python {platform.python_version()}\n",
             f"{args.dataset}, {model}, {args.prior} prior, fquad, {args.prior_epochs} prior and "
             f"{args.posterior_epochs} posterior epochs (`python benchmarks/pbb_certificate.py --dataset "
             f"{args.dataset} --prior {args.prior} --model {args.model} --width {args.width} --depth {args.depth} "
             f"--prior-epochs {args.prior_epochs} --posterior-epochs {args.posterior_epochs}`); one run.\n",
             "| quantity | value |", "| --- | --- |"]
    lines += [f"| {name} | {fmt(value)} |" for name, value in rows]
    publish("\n".join(lines), args.write)


if __name__ == "__main__":
    main()
