#!/usr/bin/env bash
# Installs what Downbeat needs to build, run and test, and only what is missing.
# Debian packages via apt-get, web packages via `npm ci`. Idempotent: a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev libqrencode-dev
  libgtest-dev libgmock-dev libexpat1-dev
  clang libclang-rt-14-dev
  nodejs npm chromium
  emscripten
  iproute2 openssl ca-certificates fonts-noto-color-emoji fonts-dejavu-core
  prometheus
  nats-server
  pulseaudio pulseaudio-utils xvfb
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node: these machines may already carry a newer Node (with its own npm); Debian's nodejs 18 also works.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: Debian packages present"
fi

# npm dependencies (exact versions from each committed lock file): the web app and the Node integration tests.
for dir in web tests/integration; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.downbeat-lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "install-deps: npm ci in $dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  else
    echo "install-deps: $dir/node_modules up to date"
  fi
done
