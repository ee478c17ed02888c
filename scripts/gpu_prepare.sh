#!/usr/bin/env bash
# Prepare, here, what scripts/gpu.sh carries to the GPU machine (which has no network): the wheels
# of the packages its image lacks in .whl/ and the data in data/, both git-ignored (.gitignore), then check that
# the working tree with them fits the device tool's 64 MiB. Run it in the checkout the device tool
# sends (the session's own repository root), where pip reaches PyPI:
#
#     bash scripts/gpu_prepare.sh [FASHION_DIR] [CIFAR_DIR]
#
# FASHION_DIR: a folder with Fashion-MNIST's four .gz files (default /usr/share/datasets/fashion-mnist);
# CIFAR_DIR: a folder holding cifar-10-batches-py/ (default ../shared/data/cifar10-subset, the 5,000 /
# 1,000 subset; the full CIFAR-10, 178 MB, does not fit). It fails with one line saying what is
# missing or too large. The wheels: what the image lacks of genproof's dependencies (KINDS.md lists
# the image's packages; its Python is 3.12): cvxpy with CLARABEL and qdldl, mnist1d and platformdirs,
# at the versions of the python that runs this script (the CPU venv), one version of each. cvxpy's
# other requirements stay behind: genproof calls only CLARABEL and SCIPY (scipy's HiGHS), cvxpy
# imports without OSQP, SCS, highspy and sparsediffpy, and they do not fit (SCS's wheel alone is
# 43 MB, sparsediffpy's 12 MB); scripts/gpu.sh's preflight solves one problem with each solver.
set -euo pipefail
cd "$(dirname "$0")/.."
FASHION_DIR=${1:-/usr/share/datasets/fashion-mnist}
CIFAR_DIR=${2:-../shared/data/cifar10-subset}
PYTHON=${PYTHON:-python3}
LIMIT=$((64 * 1024 * 1024))
WHEELS="cvxpy clarabel qdldl mnist1d platformdirs"

fail() { echo "gpu_prepare: $*" >&2; exit 1; }

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$FASHION_DIR/$f.gz" ] || fail "no Fashion-MNIST in $FASHION_DIR (want its four .gz files; $f.gz is missing)"
done
[ -f "$CIFAR_DIR/cifar-10-batches-py/test_batch" ] || fail "no cifar-10-batches-py/ in $CIFAR_DIR"

# 1. wheels, pinned to the versions installed here
pins=$("$PYTHON" - $WHEELS <<'EOF'
import sys
from importlib import metadata
missing = []
for name in sys.argv[1:]:
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit(f"not installed in this python, so no version to pin: {', '.join(missing)}")
EOF
) || fail "pin the wheels: install genproof's dependencies in this python first (pip install -e .)"
rm -rf .whl && mkdir .whl
# shellcheck disable=SC2086
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $pins \
  || fail "pip download failed for: $pins"

# 2. data, where the loaders look through GENPROOF_DATA=data
rm -rf data/fashion-mnist data/cifar-10-batches-py && mkdir -p data/fashion-mnist
cp "$FASHION_DIR"/*-ubyte.gz data/fashion-mnist/
cp -r "$CIFAR_DIR/cifar-10-batches-py" data/ && chmod -R u+w data

# 3. what travels: tracked and untracked-not-ignored files, and the carried .whl/ and data/
travels=$({ git ls-files -z --cached --others --exclude-standard; find .whl data -type f -print0; } \
          | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
echo "wheels: $(ls .whl | tr '\n' ' ')"
echo "travels: $((travels / 1024 / 1024)) MiB of $((LIMIT / 1024 / 1024)) (.whl $(du -sh .whl | cut -f1), data $(du -sh data | cut -f1))"
[ "$travels" -le "$LIMIT" ] || fail "the tree with .whl/ and data/ is $travels bytes, over the device tool's $LIMIT"
