#!/usr/bin/env bash
# Installs the independent MCP clients the tests use (crates/iza/tests/mcp.rs): the Python
# `mcp` SDK, pinned to 2.3.x, into a venv at $IZA_MCP_VENV (default /tmp/iza-mcp-venv).
# Prints the venv's python on its last line. Idempotent: does nothing when it is installed.
set -euo pipefail
MCP_PY_VERSION='>=2.3,<2.4'
venv=${IZA_MCP_VENV:-/tmp/iza-mcp-venv}
if ! "$venv/bin/python" -c 'import mcp, sys; from importlib.metadata import version; sys.exit(0 if version("mcp").startswith("2.3.") else 1)' 2>/dev/null; then
  echo "installing the Python mcp SDK ($MCP_PY_VERSION) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp$MCP_PY_VERSION" >&2
fi
echo "$venv/bin/python"
