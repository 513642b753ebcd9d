// The API client: one function per route of `/api/v1` the dashboard reads. Errors carry the
// API's message (`{"error":{"code","message"}}`).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function get(path) {
  const response = await fetch(`/api/v1${path}`, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    // Reads are protected and this browser has not signed in: the page shows the form.
    if (response.status === 401) window.dispatchEvent(new CustomEvent('iza:unauthorized'));
    let code = 'http', message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, code, message);
  }
  return response.json();
}

/** `POST`s that change something carry the API token; a 401 keeps the server's reason. */
async function post(path, token, payload) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const init = { method: 'POST', headers };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  const response = await fetch(`/api/v1${path}`, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, body.error?.code ?? 'http', body.error?.message ?? response.statusText);
    error.reason = body.error?.reason;
    throw error;
  }
  return body;
}

/** `DELETE`, with the API token. */
async function del(path, token) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1${path}`, { method: 'DELETE', headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, body.error?.code ?? 'http', body.error?.message ?? response.statusText);
    error.reason = body.error?.reason;
    throw error;
  }
  return body;
}

/** A `GET` with the API token (the audit log is the admin token's): a refusal (401, 403) is
 *  the caller's to show, not the sign-in page's. */
async function getWith(path, token) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1${path}`, { headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, body.error?.code ?? 'http', body.error?.message ?? `${response.status} ${response.statusText}`);
    error.reason = body.error?.reason;
    throw error;
  }
  return body;
}

export const api = {
  summary: () => get('/summary'),
  services: () => get('/services'),
  service: (id) => get(`/services/${encodeURIComponent(id)}`),
  graph: () => get('/graph'),
  ports: () => get('/ports'),
  nodes: () => get('/nodes'),
  hub: () => get('/hub'),
  outputs: () => get('/outputs'),
  events: ({ before, service, kind, limit } = {}) => {
    const q = new URLSearchParams();
    if (before != null) q.set('before', before);
    if (service) q.set('service', service);
    if (kind) q.set('kind', kind);
    q.set('limit', limit ?? 100);
    return get(`/events?${q}`);
  },
  streamUrl: '/api/v1/events/stream',
  docker: () => get('/docker'),
  processes: () => get('/processes'),
  /** One service's process, from the list (never a 4xx for a service `iza up` does not run):
   *  `null` when the server supervises nothing or not this service. */
  process: async (id) => {
    const list = await get('/processes');
    const found = list.processes.find((p) => p.id === id);
    return found ? found : { unsupervised: list.supervised ? 'not-supervised' : 'no-supervisor' };
  },
  act: (id, verb, token) => post(`/services/${encodeURIComponent(id)}/${verb}`, token),
  // The agents' work (docs/agents.md).
  agents: () => get('/agents'),
  tasks: () => get('/tasks'),
  queue: () => get('/queue'),
  runs: ({ task, agent, state, before, limit } = {}) => {
    const q = new URLSearchParams();
    if (task) q.set('task', task);
    if (agent) q.set('agent', agent);
    if (state) q.set('state', state);
    if (before != null) q.set('before', before);
    q.set('limit', limit ?? 50);
    return get(`/runs?${q}`);
  },
  incidents: ({ open, task, limit } = {}) => {
    const q = new URLSearchParams();
    if (open) q.set('open', 'true');
    if (task) q.set('task', task);
    q.set('limit', limit ?? 100);
    return get(`/incidents?${q}`);
  },
  /** Queues a run of task `key` (`AGENT/TASK`) now: the run, in state `queued`. */
  runNow: (key, token) => post('/runs', token, { task: key }),
  /** What the service's failed browser checks saw (docs/checks.md#browser). */
  artifacts: (id) => get(`/services/${encodeURIComponent(id)}/artifacts`),
  artifactUrl: (id, run, name) => `/api/v1/services/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(run)}/${encodeURIComponent(name)}`,
  // Business figures (docs/metrics.md).
  figures: () => get('/figures'),
  figureSeries: (id, figure) => get(`/figures/${encodeURIComponent(id)}/${encodeURIComponent(figure)}?limit=200`),
  // Alerting (docs/alerts.md).
  alerts: () => get('/alerts?limit=200'),
  alert: (id) => get(`/alerts/${encodeURIComponent(id)}`),
  ack: (id, token, by) => post(`/alerts/${encodeURIComponent(id)}/ack`, token, { by }),
  silences: () => get('/silences'),
  createSilence: (body, token) => post('/silences', token, body),
  deleteSilence: (id, token) => del(`/silences/${encodeURIComponent(id)}`, token),
  // Workflow engines (docs/workflows.md).
  workflows: ({ engine, failing } = {}) => {
    const q = new URLSearchParams();
    if (engine) q.set('engine', engine);
    if (failing) q.set('failing', 'true');
    return get(`/workflows${String(q) ? `?${q}` : ''}`);
  },
  workflow: (service, workflow) => get(`/workflows/${encodeURIComponent(service)}/${encodeURIComponent(workflow)}`),
  retryExecution: (service, id, token) => post(`/workflows/${encodeURIComponent(service)}/executions/${encodeURIComponent(id)}/retry`, token),
  // The audit log (docs/mcp.md, "The audit log"): admin token only.
  audit: ({ client, outcome, tool, before, limit } = {}, token) => {
    const q = new URLSearchParams();
    if (client) q.set('client', client);
    if (outcome) q.set('outcome', outcome);
    if (tool) q.set('tool', tool);
    if (before != null) q.set('before', before);
    q.set('limit', limit ?? 100);
    return getWith(`/audit?${q}`, token);
  },
  logStreamUrl: (id, tail) => `/api/v1/services/${encodeURIComponent(id)}/logs/stream?tail=${tail}`,
};
