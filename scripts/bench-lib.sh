# Shared by the benchmark scripts (source it): dated result folders and PyTorch venvs.

# dated_folder NAME: creates and prints results/bench/<date>-NAME, append-only: a second
# run on the same day gets results/bench/<date>-NAME-2, -3, …
dated_folder() {
  local out="results/bench/$(date +%F)-$1" n=1
  while [ -e "$out" ]; do n=$((n + 1)); out="results/bench/$(date +%F)-$1-$n"; done
  mkdir -p "$out"
  echo "$out"
}

# venv_path VERSION: the venv of PyTorch VERSION, $TORCH_VENV_DIR/.venv-torch-VERSION
# (default: in the repository).
venv_path() { echo "${TORCH_VENV_DIR:-.}/.venv-torch-$1"; }

# torch_venv VERSION IMPORTS [PACKAGE ...]: prints venv_path VERSION after creating it and
# installing torch==VERSION and the packages, unless `import IMPORTS` already works there.
torch_venv() {
  local version=$1 imports=$2 venv
  venv=$(venv_path "$1")
  shift 2
  if ! "$venv/bin/python" -c "import $imports" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet "torch==$version" "$@" >&2
  fi
  echo "$venv"
}
