#!/usr/bin/env bash
# Installs the real peers of the alerting tests (crates/iza/tests/alert_peers.rs), when missing:
#   - Debian's `prometheus-alertmanager` (the `prometheus-alertmanager` binary), which receives
#     IZA's `alertmanager` notifier;
#   - Debian's `python3-aiosmtpd` (the SMTP server of the `email` notifier's test), or PyPI's
#     `aiosmtpd` when the Debian package cannot be installed.
# Safe to run again: it does nothing when both are present. Needs root for apt-get (as CI has).
# Exits non-zero, saying what is missing, when an install fails: the tests then skip with that.
set -euo pipefail

have_alertmanager() { command -v prometheus-alertmanager >/dev/null 2>&1 || [[ -x /usr/bin/prometheus-alertmanager ]]; }
have_aiosmtpd() { python3 -c 'import aiosmtpd' >/dev/null 2>&1; }

if have_alertmanager && have_aiosmtpd; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available to install prometheus-alertmanager and python3-aiosmtpd" >&2
    exit 1
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# One installer at a time: tests run in parallel.
exec 9>/tmp/iza-alert-peers-deps.lock
flock 9
if ! have_alertmanager || ! have_aiosmtpd; then
    echo "installing prometheus-alertmanager and python3-aiosmtpd with apt-get" >&2
    $sudo apt-get update -qq || true
    # --no-install-recommends: no service is started for us; the tests start their own.
    $sudo apt-get install -y -qq --no-install-recommends prometheus-alertmanager python3-aiosmtpd >/dev/null || true
fi
if ! have_aiosmtpd; then
    echo "installing aiosmtpd from PyPI" >&2
    python3 -m pip install --quiet --break-system-packages aiosmtpd >/dev/null 2>&1 \
        || python3 -m pip install --quiet aiosmtpd >/dev/null 2>&1 || true
fi
missing=()
have_alertmanager || missing+=("prometheus-alertmanager")
have_aiosmtpd || missing+=("aiosmtpd")
if ((${#missing[@]})); then
    echo "error: could not install: ${missing[*]}" >&2
    exit 1
fi
