// An independent MCP client of IZA: the official TypeScript SDK (`@modelcontextprotocol/sdk`
// 1.32.x, session generation: `initialize` at 2025-11-25, then requests on the session) lists
// IZA's tools and resources and calls every tool against the fixture of fixtures/mcp/, over
// stdio (`iza mcp`) or streamable HTTP (`/mcp` of a running `iza serve`, with a bearer token),
// and calls the federated tools named with `--call`. Prints one JSON document (the server's
// name and the negotiated revision, the tools, and for each call whether it was a tool error,
// its structured content, or the JSON-RPC error it was refused with) for
// crates/iza/tests/mcp_typescript.rs to assert on; exits 1 on a protocol failure.
//
// The SDK is not installed here but where `scripts/mcp-clients.sh --typescript` put it, the
// directory it prints, passed as `IZA_MCP_TS` (default /tmp/iza-mcp-ts):
//
//   IZA_MCP_TS=$(scripts/mcp-clients.sh --typescript) \
//     node tests/mcp-ts/client.mjs --transport stdio --iza "$(which iza)" --manifest DIR [--scope read]
//   IZA_MCP_TS=... node tests/mcp-ts/client.mjs --transport http --url http://127.0.0.1:3000/mcp \
//     [--token TOKEN] [--call 'alpha__echo={"text":"hi"}' ...]

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const options = { call: [] };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  const value = process.argv[i + 1];
  if (value === undefined) fail(`\`--${key}\` needs a value`);
  if (key === 'call') options.call.push(value);
  else options[key] = value;
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

const sdkDir = process.env.IZA_MCP_TS ?? '/tmp/iza-mcp-ts';
const sdk = (path) => import(pathToFileURL(join(sdkDir, 'node_modules/@modelcontextprotocol/sdk/dist/esm', path)).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { readFileSync } = await import('node:fs');
const sdkVersion = JSON.parse(readFileSync(join(sdkDir, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8')).version;

// Each of IZA's tools with arguments that make sense for fixtures/mcp/iza.toml: the reading
// ones with real targets; the acting ones with a harmless target (`run_task` queues a check
// of `db`) or one that gets the documented refusal (`iza serve` supervises nothing; no
// incident or run 999999 exists; `claim_run` answers `{"claimed": null}` or a run).
const CALLS = [
  ['ecosystem_summary', {}],
  ['list_services', {}],
  ['list_services', { group: 'core', tag: 'public' }],
  ['service_status', { service: 'db' }],
  ['impact_analysis', { service: 'db' }],
  ['port_map', {}],
  ['recent_events', { limit: 5 }],
  ['list_agents', {}],
  ['list_tasks', {}],
  ['list_runs', { limit: 5 }],
  ['list_incidents', { open_only: true }],
  ['run_task', { task: 'keeper/check-db' }],
  ['resolve_incident', { incident: 999999 }],
  ['start_service', { service: 'db' }],
  ['stop_service', { service: 'db' }],
  ['restart_service', { service: 'db' }],
  ['claim_run', { agent: 'outside', worker: 'typescript-sdk' }],
  ['heartbeat_run', { run: 999999, worker: 'typescript-sdk' }],
  ['complete_run', { run: 999999, worker: 'typescript-sdk', success: true }],
];

let transport;
if (options.transport === 'stdio') {
  if (!options.iza || !options.manifest) fail('stdio needs `--iza BIN --manifest DIR`');
  const args = ['mcp', options.manifest];
  if (options.scope) args.push('--scope', options.scope);
  // IZA's notes (stderr) go to this script's stderr.
  transport = new StdioClientTransport({ command: options.iza, args, stderr: 'inherit' });
} else if (options.transport === 'http') {
  if (!options.url) fail('http needs `--url URL`');
  const headers = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(options.url), { requestInit: { headers } });
} else {
  fail('`--transport` is `stdio` or `http`');
}

// The revision the `initialize` handshake settled on (the SDK hands it to the transport).
let negotiated = null;
const setVersion = transport.setProtocolVersion?.bind(transport);
transport.setProtocolVersion = (version) => { negotiated = version; setVersion?.(version); };

/** A call's outcome: the tool's result, or the JSON-RPC error that refused it. */
async function call(client, tool, args) {
  try {
    const result = await client.callTool({ name: tool, arguments: args });
    const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    return { tool, arguments: args, is_error: Boolean(result.isError), structured: result.structuredContent ?? null, text };
  } catch (error) {
    if (typeof error?.code !== 'number') throw error;
    return { tool, arguments: args, rpc_error: { code: error.code, message: error.message } };
  }
}

const client = new Client({ name: 'iza-typescript-check', version: '1.0.0' });
const out = { sdk: sdkVersion, transport: options.transport, calls: [], federated: [] };
await client.connect(transport);
try {
  out.server = client.getServerVersion();
  // The session generation: the revision the handshake settled on, and the session's id over HTTP.
  out.protocol = negotiated;
  out.session = options.transport === 'http' ? (transport.sessionId ?? null) : null;
  out.capabilities = client.getServerCapabilities();
  await client.ping();
  out.tools = (await client.listTools()).tools.map((t) => t.name);
  out.resources = (await client.listResources()).resources.map((r) => r.uri);
  const report = await client.readResource({ uri: 'iza://report' });
  out.report_starts = (report.contents[0]?.text ?? '').slice(0, 40);
  for (const [tool, args] of CALLS) {
    if (out.tools.includes(tool)) out.calls.push(await call(client, tool, args));
  }
  for (const spec of options.call) {
    const at = spec.indexOf('=');
    const [tool, args] = at < 0 ? [spec, {}] : [spec.slice(0, at), JSON.parse(spec.slice(at + 1))];
    out.federated.push(await call(client, tool, args));
  }
} finally {
  // Ends the session (`DELETE /mcp` over HTTP; the child process over stdio).
  if (options.transport === 'http') await transport.terminateSession().catch(() => {});
  await client.close();
}
console.log(JSON.stringify(out));
