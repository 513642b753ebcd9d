// The live state of every service, kept from the server-sent event stream
// (`/api/v1/events/stream`): a `snapshot` replaces it, then each event changes one service.
// Views subscribe to changes; none of them reloads. The connection's state (`connecting`,
// `live`, `lost`) is shown in the header; a lost stream is retried with backoff.

import { api } from './api.js';

/** Kinds of the stream that views may want, besides `snapshot`. */
const KINDS = ['probe-completed', 'status-changed', 'service-impacted', 'service-recovered',
  'manifest-reloaded', 'monitor-started', 'monitor-stopped', 'store-failed',
  // Under `iza up`: the supervised processes' lifecycle.
  'process-starting', 'process-running', 'process-ready', 'process-exited',
  'process-restarting', 'process-failed', 'process-stopped',
  // The agents' work: runs and incidents (docs/agents.md).
  'run-queued', 'run-started', 'run-succeeded', 'run-failed', 'run-cancelled',
  'incident-opened', 'incident-escalated', 'incident-resolved'];

export class Live {
  constructor() {
    /** id → ServiceState as the snapshot carries it (`service`, `status`, `by`, `own`, `last`, ...). */
    this.services = new Map();
    this.seq = 0;
    this.state = 'connecting';
    this.listeners = new Set();
    this.source = null;
    this.retryMs = 1000;
    this.timer = null;
    this.hasSnapshot = false;
  }

  /** `fn(change)`, where `change` is `{type: 'snapshot'|'event'|'connection', event?}`. Returns an unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of [...this.listeners]) {
      try { fn(change); } catch (e) { console.error(e); }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit({ type: 'connection', state });
  }

  status(id) { return this.services.get(id); }

  start() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    const source = new EventSource(api.streamUrl);
    this.source = source;
    source.addEventListener('open', () => { this.retryMs = 1000; });
    source.addEventListener('snapshot', (e) => {
      const snapshot = JSON.parse(e.data);
      this.services = new Map((snapshot.services ?? []).map((s) => [s.service, s]));
      this.seq = snapshot.seq ?? 0;
      this.hasSnapshot = true;
      this.setState('live');
      this.emit({ type: 'snapshot' });
    });
    for (const kind of KINDS) {
      source.addEventListener(kind, (e) => this.apply(JSON.parse(e.data)));
    }
    source.addEventListener('error', () => {
      this.setState('lost');
      // The browser retries an open stream by itself; a closed one (an HTTP error) is ours to retry.
      if (source.readyState === EventSource.CLOSED) {
        this.timer = setTimeout(() => this.start(), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 15000);
      }
    });
  }

  apply(event) {
    this.seq = event.seq ?? this.seq;
    const s = event.service ? this.services.get(event.service) : null;
    switch (event.kind) {
      case 'probe-completed':
        if (s) { s.last = event.result; s.own = event.own; }
        break;
      case 'status-changed':
        if (s) {
          s.status = event.to.status; s.by = event.to.by ?? null; s.since = event.at;
          // Degraded although its check passes: the reason is the advisory (its failing workflows).
          if (event.to.status === 'degraded' && s.own === 'up') s.degraded_by = event.reason ?? s.degraded_by;
          else if (event.to.status === 'up') s.degraded_by = null;
        }
        break;
      case 'service-impacted':
        if (s) { s.status = 'impacted'; s.by = event.by; s.own = event.own; s.since = event.at; }
        break;
      case 'service-recovered':
        if (s) { s.status = event.to.status; s.by = event.to.by ?? null; s.since = event.at; }
        break;
      case 'manifest-reloaded':
        for (const id of event.added ?? []) {
          if (!this.services.has(id)) this.services.set(id, { service: id, status: 'unknown', own: 'unknown', checked: false });
        }
        for (const id of event.removed ?? []) this.services.delete(id);
        break;
      default:
        break;
    }
    this.emit({ type: 'event', event });
  }
}

export const live = new Live();
