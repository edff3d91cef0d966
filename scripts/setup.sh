#!/usr/bin/env bash
# Idempotent setup: system libraries TFX 1.21 needs, then .venv/ with the project installed.
#   scripts/setup.sh          runtime
#   scripts/setup.sh test     runtime + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
PY="${PYTHON:-python3.11}"

say() { echo "[setup] $*"; }

glibc_ok() {
  # ml-metadata / TFDV 1.21 wheels are manylinux_2_39: they need glibc >= 2.38 and GLIBCXX_3.4.32.
  local v lib
  v=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  [ "$(printf '%s\n2.38\n' "$v" | sort -V | head -n1)" = 2.38 ] || return 1
  lib=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}')
  [ -z "$lib" ] || grep -qa GLIBCXX_3.4.32 "$lib"
}

fix_glibc() {
  # Verified remedy on Debian 12: take libc6 and libstdc++6 from Debian 13 (trixie), pinned low
  # so nothing else is pulled from trixie.
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { echo "[setup] error: no Debian mirror found in /etc/apt to add trixie from" >&2; exit 1; }
  say "glibc < 2.38: installing libc6 and libstdc++6 from Debian trixie ($mirror, pinned at priority 100)"
  cat > /etc/apt/sources.list.d/trixie.list <<SRC
deb $mirror trixie main
SRC
  cat > /etc/apt/preferences.d/trixie-pin <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -t trixie libc6 libstdc++6 >/dev/null
}

command -v "$PY" >/dev/null || { echo "[setup] error: $PY not found; TFX 1.21 needs Python 3.11" >&2; exit 1; }

if ! glibc_ok; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    fix_glibc
    glibc_ok || { echo "[setup] error: glibc/libstdc++ still too old after the trixie upgrade" >&2; exit 1; }
  else
    echo "[setup] error: TFX 1.21 needs glibc >= 2.38; as root run: sudo scripts/setup.sh (adds Debian trixie pinned at 100 and runs apt-get install -t trixie libc6 libstdc++6)" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
stamp=".venv/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  say "installing the project into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade "pip==24.3.1" "setuptools==75.6.0" "wheel==0.45.1"
  .venv/bin/python -m pip install -q -c requirements.txt -e ".${EXTRAS:+[$EXTRAS]}"
  touch "$stamp"
else
  say ".venv is up to date"
fi
