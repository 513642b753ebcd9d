#!/usr/bin/env bash
# Installs what the dashboard's browser tests need, when it is missing:
#   - Debian's `chromium` (apt-get), when /usr/bin/chromium is not there;
#   - the Node packages of tests/browser (`npm ci`), when tests/browser/node_modules is not there.
# Safe to run again: it does nothing when both are present. Needs root for apt-get (as CI has).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chromium="${IZA_CHROMIUM:-/usr/bin/chromium}"

# One install at a time: the browser tests of one test binary run in parallel and each calls
# this script; on a fresh machine they would race for apt's and dpkg's locks (and npm's
# directory). The others wait here, then find everything installed.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/iza-browser-deps.lock"
    flock 9
fi

if [[ ! -x "$chromium" ]]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: \`$chromium\` is missing and apt-get is not available" >&2
        echo "hint: install Chromium and set IZA_CHROMIUM to its path" >&2
        exit 1
    fi
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    echo "installing chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Another apt-get of the machine may hold dpkg's lock: wait for it (up to 5 minutes).
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "error: \`node\` and \`npm\` are needed for the browser tests" >&2
    echo "hint: install them, e.g. \`apt-get install nodejs npm\`" >&2
    exit 1
fi

if [[ ! -d "$root/tests/browser/node_modules/playwright-core" ]]; then
    echo "installing the browser tests' Node packages (npm ci)" >&2
    (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi
