#!/usr/bin/env bash
# Installs the Debian packages tapelab needs, and nothing else. Idempotent: runs `apt-get update` once
# and installs only what is missing, so a second run is quick. Optional packages (OpenBLAS, libtorch for
# the side-by-side benchmarks) are tried but their absence is not an error.
set -euo pipefail

required=(
  build-essential cmake
  libxsimd-dev      # SIMD wrappers for kernels/
  libgtest-dev      # tests/
  libgmock-dev      # tests/autodiff: EXPECT_THAT(message, HasSubstr(...))
  libbenchmark-dev  # bench/
  libcli11-dev      # the tapelab command's flags
  nlohmann-json3-dev
  python3-matplotlib  # plots
  zlib1g-dev        # nn/data: gzip-compressed IDX files ((Fashion-)MNIST)
  dataset-fashion-mnist  # the real data set (30 MB), read by nn/data and its test
)
optional=(
  libopenblas-dev   # bench/: the GEMM peer
)
# Extra optional packages can be asked for: TAPELAB_OPTIONAL_EXTRA="libtorch-dev python3-torch".
read -r -a extra <<< "${TAPELAB_OPTIONAL_EXTRA:-}"
optional+=("${extra[@]}")

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bootstrap: not root and no sudo; install these by hand: ${required[*]}" >&2; exit 1; fi
fi

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

need=$(missing "${required[@]}")
want=$(missing "${optional[@]}")
if [ -z "$need" ] && [ -z "$want" ]; then
  echo "bootstrap: all packages present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ -n "$need" ]; then
  echo "bootstrap: installing $need"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $need
fi
for p in $want; do
  echo "bootstrap: installing optional $p"
  $SUDO apt-get install -y -qq --no-install-recommends "$p" || echo "bootstrap: optional $p not available, skipped"
done
echo "bootstrap: done"
