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

export const api = {
  summary: () => get('/summary'),
  services: () => get('/services'),
  service: (id) => get(`/services/${encodeURIComponent(id)}`),
  graph: () => get('/graph'),
  ports: () => get('/ports'),
  events: ({ before, service, limit } = {}) => {
    const q = new URLSearchParams();
    if (before != null) q.set('before', before);
    if (service) q.set('service', service);
    q.set('limit', limit ?? 100);
    return get(`/events?${q}`);
  },
  streamUrl: '/api/v1/events/stream',
};
