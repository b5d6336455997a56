#!/usr/bin/env bash
# Makes the replica's Python tools available: moto_server (moto) and cfn-lint. A tool on the PATH is
# used as it is. A missing one is installed, at the pinned version below, into a project-local
# virtual environment (.venv-tools/, or $PYTHON_TOOLS_VENV), because Debian 12's and Ubuntu 24.04's
# system Python refuses `pip install` ("externally managed environment"). As root, python3-venv is
# installed with apt-get when it is missing; otherwise the command to run is printed.
#
# Prints on stdout the directory to put first on the PATH (nothing when the PATH already has both
# tools); everything else goes to stderr. That directory holds links to the venv's tools only, so
# the venv's python never shadows the system's:
#   tools_path=$(bash scripts/python-tools.sh) && [[ -z $tools_path ]] || PATH="$tools_path:$PATH"
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/progress.sh
exec 3>&1 1>&2

# tool → requirement (pinned: the versions the project is tested with) and distribution name.
declare -A requirement_of=([moto_server]='moto[server]==5.2.1' [cfn-lint]='cfn-lint==1.51.0')
declare -A distribution_of=([moto_server]=moto [cfn-lint]=cfn-lint)
tools=(moto_server cfn-lint)

venv=${PYTHON_TOOLS_VENV:-$PWD/.venv-tools}
links=$venv/path

missing=()
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} > 0)) || exit 0

# pip's setting $2 (e.g. index-url) as it reads it: the environment variable $1 first, then its
# configuration files.
pip_setting() {
  local variable=$1 key=$2 value
  value=${!variable:-}
  [[ -n $value ]] || value=$("$venv/bin/python" -m pip config get "global.$key" 2>/dev/null) || true
  [[ -n $value ]] || value=$("$venv/bin/python" -m pip config get "install.$key" 2>/dev/null) || true
  echo "$value"
}

# The version of distribution $1 that the venv's python sees, or nothing.
venv_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null || true
}

to_install=()
if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c '' 2>/dev/null; then
  for tool in "${missing[@]}"; do
    pinned=${requirement_of[$tool]##*==}
    if [[ ! -x $venv/bin/$tool || $(venv_version "${distribution_of[$tool]}") != "$pinned" ]]; then
      to_install+=("${requirement_of[$tool]}")
    fi
  done
else
  for tool in "${missing[@]}"; do to_install+=("${requirement_of[$tool]}"); done
fi

if ((${#to_install[@]} > 0)); then
  echo "python-tools: ${missing[*]} not on the PATH: installing ${to_install[*]} into $venv"

  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      progress_step "installing python3-venv (apt-get)" \
        bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv'
    else
      echo "python-tools: python3 with its venv module is needed to install ${missing[*]}; run:"
      echo "  sudo apt-get update && sudo apt-get install -y python3 python3-venv"
      echo "or put ${missing[*]} on the PATH (${to_install[*]})."
      exit 1
    fi
  fi

  created=false
  if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    [[ ! -e $venv || -f $venv/pyvenv.cfg ]] || { echo "python-tools: $venv exists and is not a virtual environment: move it away"; exit 1; }
    rm -rf "$venv"
    progress_step "creating the virtual environment $venv (python3 -m venv)" python3 -m venv "$venv"
    created=true
  fi

  if ! progress_step "pip install ${to_install[*]} into $venv" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input "${to_install[@]}"; then
    index=$(pip_setting PIP_INDEX_URL index-url)
    extra=$(pip_setting PIP_EXTRA_INDEX_URL extra-index-url)
    find_links=$(pip_setting PIP_FIND_LINKS find-links)
    echo "python-tools: step 'pip install' failed: could not install ${to_install[*]} into $venv"
    echo "  from the index ${index:-https://pypi.org/simple}${extra:+, extra indexes $extra}${find_links:+, find-links $find_links} (pip's output above says why)."
    echo "  Make that index reachable (or set PIP_INDEX_URL to a mirror) and run this again, or install"
    echo "  ${to_install[*]} another way (pipx, a venv of your own) so that ${missing[*]} are on the PATH."
    if $created; then rm -rf "$venv"; fi
    exit 1
  fi
fi

mkdir -p "$links"
for tool in "${missing[@]}"; do ln -sfn "$venv/bin/$tool" "$links/$tool"; done
echo "python-tools: using ${missing[*]} from $venv"
echo "$links" >&3
