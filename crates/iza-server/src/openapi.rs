//! Defines the OpenAPI 3.1 document served at `GET /api/v1/openapi.json`, written by hand:
//! every route of the router, its parameters and the shape of its answer.

use serde_json::{Value, json};

fn ok(description: &str, content_type: &str, schema: Value) -> Value {
    json!({ "200": { "description": description, "content": { content_type: { "schema": schema } } } })
}

fn error_ref() -> Value {
    json!({ "description": "An error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn with_errors(mut responses: Value, codes: &[&str]) -> Value {
    if let Some(map) = responses.as_object_mut() {
        for code in codes {
            map.insert((*code).to_owned(), error_ref());
        }
    }
    responses
}

fn id_parameter() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } })
}

/// A `POST` that acts on a supervised process: it needs the bearer token.
fn action(summary: &str) -> Value {
    json!({
        "summary": summary,
        "parameters": [id_parameter()],
        "security": [{ "bearer": [] }],
        "responses": with_errors(ok("The process afterwards", "application/json", json!({ "$ref": "#/components/schemas/Process" })), &["400", "401", "403", "404", "409", "503"])
    })
}

/// An event id bound of `GET /events`: an id of the store, 0 to 2^63 - 1 (others answer 400).
fn event_id(name: &str, description: &str) -> Value {
    query(
        name,
        description,
        json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": i64::MAX }),
    )
}

/// Adds a 401 to every operation that does not have one: reads need the token too when the
/// server protects them (`--protect-reads`); `/healthz` never does.
fn with_unauthorized(mut document: Value) -> Value {
    let Some(paths) = document["paths"].as_object_mut() else {
        return document;
    };
    for (path, item) in paths.iter_mut() {
        if path == "/healthz" {
            continue;
        }
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            if let Some(responses) = operation["responses"].as_object_mut() {
                responses.entry("401").or_insert_with(error_ref);
            }
        }
    }
    document
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// The document.
pub fn document() -> Value {
    let mut document = base_document();
    add(&mut document, "paths", agents_paths());
    add(&mut document["components"], "schemas", agents_schemas());
    add(&mut document, "paths", analysis_paths());
    add(&mut document, "paths", alerts_paths());
    add(&mut document["components"], "schemas", alerts_schemas());
    add(&mut document, "paths", figures_paths());
    add(&mut document["components"], "schemas", figures_schemas());
    add(&mut document, "paths", nodes_paths());
    add(&mut document, "paths", outputs_paths());
    add(&mut document, "paths", workflows_paths());
    add(&mut document["components"], "schemas", workflows_schemas());
    add(&mut document, "paths", audit_paths());
    with_unauthorized(document)
}

/// Adds the entries of `more` (an object) to the object under `key`.
fn add(target: &mut Value, key: &str, more: Value) {
    if let (Some(map), Value::Object(more)) = (target[key].as_object_mut(), more) {
        map.extend(more);
    }
}

fn base_document() -> Value {
    let object = || json!({ "type": "object" });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "IZA OS API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The live state of an ecosystem watched by `iza serve`. See docs/api.md. A method a path does not list answers 405 with `Allow` (before any token check)."
        },
        "security": [{}, { "bearer": [] }],
        "paths": {
            "/healthz": { "get": {
                "summary": "200 `ok` while the monitor runs, 503 while stopping",
                "security": [],
                "responses": {
                    "200": { "description": "The monitor runs", "content": { "text/plain": { "schema": { "type": "string" } } } },
                    "503": { "description": "The server is stopping", "content": { "text/plain": { "schema": { "type": "string" } } } }
                }
            }},
            "/metrics": { "get": {
                "summary": "Prometheus metrics",
                "responses": ok("OpenMetrics text", "application/openmetrics-text", json!({ "type": "string" }))
            }},
            "/api/v1/summary": { "get": {
                "summary": "Ecosystem name, services by status, claimed against mapped figures, monitor counters",
                "responses": ok("The summary", "application/json", json!({ "$ref": "#/components/schemas/Summary" }))
            }},
            "/api/v1/services": { "get": {
                "summary": "Every service with its live status",
                "responses": ok("Services in catalog order", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "seq": { "type": "integer" }, "at": { "type": "integer" },
                        "services": { "type": "array", "items": { "$ref": "#/components/schemas/ServiceRow" } }
                    }
                }))
            }},
            "/api/v1/services/{id}": { "get": {
                "summary": "One service: live state, recent results, rollups, uptime, dependencies and dependents. Secrets (URL passwords, `env` values, header values...) are shown as `***` unless `raw=true` is asked with the admin token (docs/security.md)",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                    query("raw", "The definition as written, secrets included: needs the admin token (401 without a token, 403 with the read-only one)", json!({ "type": "boolean", "default": false }))],
                "responses": with_errors(ok("The service", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "service": { "$ref": "#/components/schemas/ServiceRow" },
                        "definition": object(), "state": object(),
                        "recent_results": { "type": "array", "items": object(), "description": "Newest first; each with `node` and `region` (who probed it) when recorded" },
                        "rollups": object(), "uptime": object(),
                        "depends_on": { "type": "array", "items": { "type": "string" } },
                        "dependencies": { "type": "array", "items": { "type": "string" } },
                        "dependents": { "type": "array", "items": { "type": "string" } },
                        "agents": { "type": "array", "items": { "type": "object", "properties": {
                            "id": { "type": "string" }, "name": { "type": "string" }, "tier": { "type": "integer" },
                            "reports_to": { "type": ["string", "null"] },
                            "tasks": { "type": "array", "items": object() }
                        } } }
                    }
                })), &["400", "401", "403", "404", "500"])
            }},
            "/api/v1/graph": { "get": {
                "summary": "The ecosystem graph (nodes and edges), as `iza graph --format json`",
                "responses": ok("The graph", "application/json", object())
            }},
            "/api/v1/ports": { "get": {
                "summary": "The port map, as `iza ports --format json`",
                "responses": ok("The port map", "application/json", object())
            }},
            "/api/v1/hub": { "get": {
                "summary": "The MCP hub: the upstream MCP servers federated behind `/mcp` (the manifest's `[services.X.mcp]`), each with its state, protocol revision, tools (namespaced `server__tool`) and call figures; no credentials",
                "responses": ok("The hub", "application/json", crate::hub::schema())
            }},
            "/api/v1/docker": { "get": {
                "summary": "The Docker engine (connected with its version, unreachable with the reason, or unused) and the container of every service with a Docker reference (null when the engine has none by that reference)",
                "responses": ok("Containers", "application/json", json!({
                    "type": "object",
                    "required": ["engine", "at", "containers"],
                    "properties": {
                        "engine": { "type": "object", "required": ["state"], "properties": {
                            "state": { "enum": ["unused", "connected", "unreachable"] },
                            "version": { "type": "string" },
                            "reason": { "type": "string" }
                        }},
                        "at": { "type": "integer" },
                        "containers": { "type": "object" }
                    }
                }))
            }},
            "/api/v1/processes": { "get": {
                "summary": "The supervised processes of `iza up` (`supervised: false` and none under `iza serve`)",
                "responses": ok("Processes", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "supervised": { "type": "boolean" },
                        "processes": { "type": "array", "items": { "$ref": "#/components/schemas/Process" } }
                    }
                }))
            }},
            "/api/v1/services/{id}/process": { "get": {
                "summary": "One service's process",
                "parameters": [id_parameter()],
                "responses": with_errors(ok("Its process", "application/json", json!({ "$ref": "#/components/schemas/Process" })), &["400", "404", "409"])
            }},
            "/api/v1/services/{id}/logs": { "get": {
                "summary": "The last lines of a supervised service's output (stdout and stderr), oldest first",
                "parameters": [id_parameter(), query("tail", "How many lines, at most 10000 (default 100)", json!({ "type": "integer", "minimum": 0, "maximum": 10000 }))],
                "responses": with_errors(ok("Lines", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "service": { "type": "string" },
                        "lines": { "type": "array", "items": { "$ref": "#/components/schemas/LogLine" } }
                    }
                })), &["400", "404", "409"])
            }},
            "/api/v1/services/{id}/logs/stream": { "get": {
                "summary": "Server-sent events: the last `tail` lines, then every new line (`event: log`, `id:` its seq, data a LogLine); `event: skipped` says how many lines a slow reader missed",
                "parameters": [id_parameter(), query("tail", "How many past lines first (default 100)", json!({ "type": "integer", "minimum": 0, "maximum": 10000 }))],
                "responses": with_errors(ok("The stream", "text/event-stream", json!({ "type": "string" })), &["400", "404", "409"])
            }},
            "/api/v1/services/{id}/artifacts": { "get": {
                "summary": "What the service's failed browser checks saw, newest first: the last `keep` failed runs, each with its failure, the console's last lines, the journey's steps and the names of its screenshots",
                "parameters": [id_parameter()],
                "responses": with_errors(ok("Kept runs", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "service": { "type": "string" },
                        "keep": { "type": "integer", "minimum": 0 },
                        "runs": { "type": "array", "items": { "$ref": "#/components/schemas/ArtifactRun" } }
                    }
                })), &["400", "404"])
            }},
            "/api/v1/services/{id}/artifacts/{run}/{file}": { "get": {
                "summary": "One screenshot of a kept run (PNG)",
                "parameters": [
                    id_parameter(),
                    { "name": "run", "in": "path", "required": true, "description": "The run's id (Unix milliseconds), from the list", "schema": { "type": "string" } },
                    { "name": "file", "in": "path", "required": true, "description": "The screenshot's name (`NAME.png`), from the list", "schema": { "type": "string" } }
                ],
                "responses": with_errors(ok("The screenshot", "image/png", json!({ "type": "string", "format": "binary" })), &["400", "404"])
            }},
            "/api/v1/services/{id}/start": { "post": action("Starts the service's process now (no wait for dependencies); a fresh restart series") },
            "/api/v1/services/{id}/stop": { "post": action("Stops the service's process (its stop signal, then SIGKILL to its process group after the grace period) and answers once it has stopped; the restart policy does not undo it") },
            "/api/v1/services/{id}/restart": { "post": action("Stops, then starts the service's process") },
            "/api/v1/session": { "post": {
                "summary": "Signs a browser in: with a bearer token (admin or read-only), answers 204 and sets a new random session secret (never the token) as the `iza_session` cookie (HttpOnly, SameSite=Strict, Max-Age 12 h), which reads then present when the server protects them (`--protect-reads`). The session has the token's scope and ends after 12 hours, at a rotation of that token, or at a restart. Calls that change something still need the `Authorization` header.",
                "security": [{ "bearer": [] }],
                "responses": with_errors(json!({ "204": { "description": "Signed in: `Set-Cookie: iza_session=...`" } }), &["401", "403"])
            }},
            "/api/v1/events": { "get": {
                "summary": "Stored events, newest first, paged",
                "parameters": [
                    event_id("before", "Only events with a lower id (the previous page's `next`)"),
                    event_id("after", "Only events with a higher id"),
                    query("service", "Only events about this service", json!({ "type": "string" })),
                    query("kind", "Only events of these kinds, comma-separated (`run-failed,incident-opened`; at most 32); a kind no event has matches nothing", json!({ "type": "string", "pattern": "^[a-z0-9-]+(,[a-z0-9-]+)*$", "maxLength": 2000 })),
                    query("limit", "At most this many, 1 to 1000 (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
                ],
                "responses": with_errors(ok("A page of events", "application/json", json!({
                    "type": "object",
                    "properties": {
                        "events": { "type": "array", "items": { "$ref": "#/components/schemas/StoredEvent" } },
                        "next": { "type": ["integer", "null"], "description": "Pass as `before` for the next page; null on the last page" }
                    }
                })), &["400", "404", "500"])
            }},
            "/api/v1/events/stream": { "get": {
                "summary": "Server-sent events: `event: snapshot` first (data: a Snapshot; again after falling behind), then one event per runtime event (`event:` its kind, data: a RuntimeEvent). Every `id:` is `EPOCH-SEQ`: the bus's epoch (Unix ms) and the `seq` of the latest event sent. Comment lines every 15 s keep it alive.",
                "parameters": [{
                    "name": "Last-Event-ID", "in": "header", "required": false,
                    "description": "`EPOCH-SEQ` of the last event seen: the events after it are sent first, without a snapshot, while the server holds them all; otherwise (another epoch, unreadable, too old) the stream starts with a snapshot",
                    "schema": { "type": "string" }
                }],
                "responses": ok("An event stream", "text/event-stream", json!({
                    "type": "string",
                    "description": "Frames `id: EPOCH-SEQ`, `event: KIND`, `data: JSON`; KIND is `snapshot` (a Snapshot) or a RuntimeEvent's `kind`"
                }))
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": ok("OpenAPI 3.1", "application/json", object())
            }}
        },
        "components": {
            "securitySchemes": { "bearer": {
                "type": "http", "scheme": "bearer",
                "description": "`iza token` prints the token. Needed by every call that may change anything, and by reads when the server protects them (all but `/healthz`); see docs/security.md."
            }},
            "schemas": {
            "Error": {
                "type": "object",
                "properties": { "error": { "type": "object", "properties": {
                    "code": { "type": "string", "enum": crate::error::ERROR_CODES },
                    "message": { "type": "string" },
                    "reason": {
                        "description": "Only with `unauthorized` (401): why the call was refused",
                        "type": "string",
                        "enum": ["missing bearer token", "wrong token", "no token configured on the server"]
                    }
                }, "required": ["code", "message"] } },
                "required": ["error"]
            },
            "Status": { "type": "string", "enum": ["unknown", "up", "degraded", "down", "impacted"] },
            "ServiceRow": {
                "type": "object",
                "properties": {
                    "id": { "type": "string" }, "name": { "type": ["string", "null"] },
                    "group": { "type": ["string", "null"] }, "kind": { "type": ["string", "null"] },
                    "ports": { "type": "array" },
                    "status": { "$ref": "#/components/schemas/Status" },
                    "by": { "type": ["string", "null"], "description": "The root cause, when impacted" },
                    "own": { "type": "string", "enum": ["unknown", "up", "degraded", "down"] },
                    "checked": { "type": "boolean" }, "since": { "type": ["integer", "null"] },
                    "last": { "type": ["object", "null"], "description": "The latest probe, with `node` and `region`: who probed it" },
                    "regional": { "type": "object", "description": "Only for a check probed from several regions (docs/scale-out.md): `quorum`, `regions` (each: `region`, `own`, `last`, `unprobed`), `down`, `problem`" },
                    "degraded_by": { "type": "string", "description": "Present when something other than its own check lowers it to `degraded`: the failing workflows of a workflow engine, with their last error and node (docs/workflows.md)" }
                }
            },
            "Summary": {
                "type": "object",
                "properties": {
                    "ecosystem": { "type": "string" }, "seq": { "type": "integer" }, "at": { "type": "integer" },
                    "services": { "type": "integer" }, "checked": { "type": "integer" },
                    "status": { "type": "object", "properties": {
                        "up": { "type": "integer" }, "degraded": { "type": "integer" }, "down": { "type": "integer" },
                        "impacted": { "type": "integer" }, "unknown": { "type": "integer" }
                    } },
                    "claims": { "type": "array", "items": { "type": "object", "properties": {
                        "label": { "type": "string" }, "claimed": { "type": "string" },
                        "mapped": { "type": ["string", "null"], "description": "What is mapped or measured: the catalog's count, or the business figure's ecosystem aggregate" },
                        "counts": { "type": ["string", "null"] },
                        "figure": { "type": ["string", "null"], "description": "The business figure the claim is about" }
                    } } },
                    "figures": { "type": "object", "properties": {
                        "services": { "type": "integer" }, "ports": { "type": "integer" },
                        "docker_services": { "type": "integer" }, "mcp_servers": { "type": "integer" },
                        "workflow_engines": { "type": "integer" }, "agents": { "type": "integer" },
                        "tasks": { "type": "integer" }, "groups": { "type": "integer" }
                    } },
                    "counters": { "type": "object" },
                    "docker": { "type": "object" }
                }
            },
            "Process": {
                "type": "object",
                "required": ["id", "state", "restarts"],
                "properties": {
                    "id": { "type": "string" },
                    "state": { "type": "string", "enum": ["pending", "starting", "running", "ready", "exited", "backoff", "failed", "stopped"] },
                    "pid": { "type": ["integer", "null"] },
                    "restarts": { "type": "integer" },
                    "started_at": { "type": ["integer", "null"] },
                    "last_exit": { "type": ["object", "null"] },
                    "reason": { "type": ["string", "null"] }
                }
            },
            "StoredEvent": {
                "type": "object",
                "required": ["id", "at", "kind", "payload"],
                "properties": {
                    "id": { "type": "integer", "description": "The store's id: the `before`/`after` of other pages (not the stream's `EPOCH-SEQ`)" },
                    "at": { "type": "integer" },
                    "kind": { "type": "string" },
                    "service": { "type": ["string", "null"] },
                    "payload": { "$ref": "#/components/schemas/RuntimeEvent" }
                }
            },
            "RuntimeEvent": {
                "type": "object",
                "description": "One event of the monitor's bus, as the stream's `data:` and a stored event's `payload`; the other fields depend on `kind`",
                "required": ["seq", "at", "kind"],
                "properties": {
                    "seq": { "type": "integer", "description": "Its position on the bus" },
                    "at": { "type": "integer" },
                    "kind": { "type": "string", "description": "probe-completed, status-changed, service-impacted, service-recovered, manifest-reloaded, monitor-started, monitor-stopped, store-failed, process-*" },
                    "service": { "type": "string" },
                    "node": { "type": "string", "description": "On a shared store: the node that recorded it (in a stored event's payload), or, on the stream, the other node it was relayed from (absent: this node's own)" }
                }
            },
            "Snapshot": {
                "type": "object",
                "description": "The stream's `snapshot` data: every service's state",
                "required": ["seq", "at", "services"],
                "properties": {
                    "seq": { "type": "integer" }, "at": { "type": "integer" },
                    "services": { "type": "array", "items": object() }
                }
            },
            "ArtifactRun": {
                "type": "object",
                "required": ["id", "at", "console", "steps", "screenshots"],
                "properties": {
                    "id": { "type": "string" },
                    "at": { "type": "integer" },
                    "message": { "type": ["string", "null"] },
                    "title": { "type": ["string", "null"] },
                    "console": { "type": "array", "items": { "type": "string" } },
                    "steps": { "type": "array", "items": {
                        "type": "object",
                        "required": ["step", "duration_ms"],
                        "properties": {
                            "step": { "type": "string" },
                            "duration_ms": { "type": "number" },
                            "error": { "type": ["string", "null"] }
                        }
                    } },
                    "screenshots": { "type": "array", "items": { "type": "string" } },
                    "comparison": {
                        "type": "object",
                        "required": ["pixel_diff", "text_similarity", "missing_link_count", "missing_links"],
                        "properties": {
                            "pixel_diff": { "type": "number" },
                            "text_similarity": { "type": "number" },
                            "missing_link_count": { "type": "integer" },
                            "missing_links": { "type": "array", "items": { "type": "string" } },
                            "original_status": { "type": ["integer", "null"] }
                        }
                    }
                }
            },
            "LogLine": {
                "type": "object",
                "properties": {
                    "seq": { "type": "integer" }, "at": { "type": "integer" },
                    "stream": { "type": "string", "enum": ["stdout", "stderr"] },
                    "text": { "type": "string" }
                }
            }
        } }
    })
}

/// The impact analysis, the manifest and the live report (`analysis.rs`). `/mcp` (MCP over
/// streamable HTTP, `docs/mcp.md`) is not a REST route and is not listed.
fn analysis_paths() -> Value {
    json!({
        "/api/v1/services/{id}/impact": { "get": {
            "summary": "What breaks if the service goes down: the services that depend on it (directly or through others, with their live status), the services it exchanges data with, and the agents watching the affected services",
            "parameters": [id_parameter()],
            "responses": with_errors(ok("The impact analysis", "application/json", json!({
                "type": "object",
                "required": ["service", "summary", "impacted", "connected", "agents"],
                "properties": {
                    "service": { "type": "string" },
                    "summary": { "type": "string" },
                    "impacted": { "type": "array", "items": { "type": "object" } },
                    "connected": { "type": "array", "items": { "type": "object" } },
                    "agents": { "type": "array", "items": { "type": "object" } }
                }
            })), &["404"])
        }},
        "/api/v1/manifest": { "get": {
            "summary": "The validated manifest (the catalog) as JSON, every secret shown as `***`",
            "responses": ok("The catalog", "application/json", json!({ "type": "object" }))
        }},
        "/api/v1/report": { "get": {
            "summary": "The live analysis report (Markdown), as `iza report`, with each service's current status and its uptime over a day",
            "responses": ok("The report", "text/markdown", json!({ "type": "string" }))
        }}
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn integer_path(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } })
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

/// The routes of the agents and their work (`agents.rs`).
fn agents_paths() -> Value {
    let list_of = |key: &str, item: &str| json!({ "type": "object", "properties": { key: { "type": "array", "items": schema_ref(item) } } });
    json!({
        "/api/v1/agents": { "get": {
            "summary": "Every agent: tier, reporting line, services, tasks, open incidents",
            "responses": with_errors(ok("The agents", "application/json", list_of("agents", "Agent")), &["500"])
        }},
        "/api/v1/agents/{agent}/claim": { "post": {
            "summary": "An external agent claims the next run queued for this agent (tasks with `run = { external = true }`); 204 when there is none; with `wait`, a long poll held until a run can be claimed or the wait is over",
            "parameters": [
                { "name": "agent", "in": "path", "required": true, "schema": { "type": "string" } },
                query("wait", "Seconds to wait for a run when none is ready, 0 to 60 (woken by the queue, not by polling)", json!({ "type": "number", "minimum": 0, "maximum": 60 }))
            ],
            "security": [{ "bearer": [] }],
            "requestBody": json_body(json!({
                "type": "object", "required": ["worker"], "additionalProperties": false,
                "properties": {
                    "worker": { "type": "string", "minLength": 1, "maxLength": 200, "description": "Who claims" },
                    "tasks": { "type": "array", "items": { "type": "string" }, "description": "Only these of the agent's tasks" },
                    "lease": { "type": "number", "minimum": 1, "maximum": 3600, "description": "Seconds the claim holds without a heartbeat (default 60)" }
                }
            })),
            "responses": with_errors({
                let mut responses = ok("The claimed run, now held by the caller", "application/json", schema_ref("Run"));
                responses["204"] = json!({ "description": "No run is waiting" });
                responses
            }, &["400", "401", "404", "409", "500"])
        }},
        "/api/v1/tasks": { "get": {
            "summary": "Every task: agent, priority, trigger, action, next run, last run, success rate and durations over the last day",
            "responses": with_errors(ok("The tasks", "application/json", json!({
                "type": "object",
                "properties": { "engine": { "type": "boolean" }, "tasks": { "type": "array", "items": schema_ref("Task") } }
            })), &["500"])
        }},
        "/api/v1/queue": { "get": {
            "summary": "Queue depth by priority, runs scheduled for later, and the runs in flight",
            "responses": with_errors(ok("The queue", "application/json", json!({
                "type": "object",
                "properties": {
                    "at": { "type": "integer" },
                    "ready": { "type": "object", "properties": {
                        "high": { "type": "integer" }, "medium": { "type": "integer" }, "low": { "type": "integer" } } },
                    "scheduled": { "type": "integer" },
                    "running": { "type": "array", "items": schema_ref("Run") }
                }
            })), &["500"])
        }},
        "/api/v1/runs": {
            "get": {
                "summary": "Run history, newest first, paged by `before`",
                "parameters": [
                    query("task", "Only this task's runs (its key)", json!({ "type": "string" })),
                    query("agent", "Only this agent's runs", json!({ "type": "string" })),
                    query("state", "Comma-separated states: queued, running, succeeded, failed, cancelled", json!({ "type": "string" })),
                    query("before", "Only runs with a lower id", json!({ "type": "integer", "minimum": 1 })),
                    query("limit", "At most this many, 1 to 1000 (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
                ],
                "responses": with_errors(ok("A page of runs", "application/json", list_of("runs", "Run")), &["400", "500"])
            },
            "post": {
                "summary": "Queues a run of a task now; 202 with the run (follow it with `GET /runs/{id}?wait=`)",
                "security": [{ "bearer": [] }],
                "requestBody": json_body(json!({
                    "type": "object", "required": ["task"], "additionalProperties": false,
                    "properties": { "task": { "type": "string", "description": "`AGENT/TASK`: the task's key, or its agent and name" } }
                })),
                "responses": with_errors(json!({ "202": { "description": "Queued", "content": { "application/json": { "schema": schema_ref("Run") } } } }), &["400", "401", "404", "409", "500"])
            }
        },
        "/api/v1/runs/{id}": { "get": {
            "summary": "One run; with `wait`, answers once it has finished or the wait is over",
            "parameters": [integer_path("id"), query("wait", "Seconds to wait for the run to finish, 0 to 60", json!({ "type": "number", "minimum": 0, "maximum": 60 }))],
            "responses": with_errors(ok("The run", "application/json", schema_ref("Run")), &["400", "404", "409", "500"])
        }},
        "/api/v1/runs/{id}/heartbeat": { "post": {
            "summary": "An external agent extends its claim; 409 `run-not-held` when it was lost",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "requestBody": json_body(json!({
                "type": "object", "required": ["worker"], "additionalProperties": false,
                "properties": {
                    "worker": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "lease": { "type": "number", "minimum": 1, "maximum": 3600 }
                }
            })),
            "responses": with_errors(ok("The run, held for another lease", "application/json", schema_ref("Run")), &["400", "401", "404", "409", "500"])
        }},
        "/api/v1/runs/{id}/complete": { "post": {
            "summary": "An external agent ends its claim with success or failure (a failure is retried or escalated like any run's)",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "requestBody": json_body(json!({
                "type": "object", "required": ["worker", "success"], "additionalProperties": false,
                "properties": {
                    "worker": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "success": { "type": "boolean" },
                    "output": { "type": "string" }
                }
            })),
            "responses": with_errors(ok("The run afterwards", "application/json", schema_ref("Run")), &["400", "401", "404", "409", "500"])
        }},
        "/api/v1/runs/{id}/cancel": { "post": {
            "summary": "Cancels a run: a queued one never runs; a running one is stopped (its `exec` child killed, its `http` request dropped, an external claim ended); 409 `run-finished` when it had ended",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": {
                "type": "object", "additionalProperties": false,
                "properties": { "by": { "type": "string", "maxLength": 200, "description": "Who cancels it (the run's error reads `cancelled by ...`)" } }
            } } } },
            "responses": with_errors(ok("The run afterwards, `cancelled`", "application/json", schema_ref("Run")), &["400", "401", "404", "409", "500"])
        }},
        "/api/v1/incidents": { "get": {
            "summary": "Incidents with their escalation chains, newest first",
            "parameters": [
                query("open", "Only open incidents", json!({ "type": "boolean" })),
                query("task", "Only this task's incidents", json!({ "type": "string" })),
                query("before", "Only incidents with a lower id", json!({ "type": "integer", "minimum": 1 })),
                query("limit", "At most this many, 1 to 1000 (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
            ],
            "responses": with_errors(ok("A page of incidents", "application/json", list_of("incidents", "Incident")), &["400", "500"])
        }},
        "/api/v1/incidents/{id}": { "get": {
            "summary": "One incident",
            "parameters": [integer_path("id")],
            "responses": with_errors(ok("The incident", "application/json", schema_ref("Incident")), &["400", "404", "500"])
        }},
        "/api/v1/incidents/{id}/resolve": { "post": {
            "summary": "A person resolves an incident",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": {
                "type": "object", "additionalProperties": false,
                "properties": { "by": { "type": "string", "description": "Who resolves it (the resolution reads `resolved by ...`)" } }
            } } } },
            "responses": with_errors(ok("The incident afterwards", "application/json", schema_ref("Incident")), &["400", "401", "404", "409", "500"])
        }}
    })
}

/// The schemas of the agents' routes.
fn agents_schemas() -> Value {
    let nullable = |kind: &str| json!({ "type": [kind, "null"] });
    json!({
        "Agent": {
            "type": "object",
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "tier": { "type": "integer", "minimum": 1, "maximum": 3 },
                "reports_to": nullable("string"),
                "reports": { "type": "array", "items": { "type": "string" } },
                "role": nullable("string"),
                "services": { "type": "array", "items": { "type": "string" } },
                "groups": { "type": "array", "items": { "type": "string" } },
                "tasks": { "type": "array", "items": { "type": "string" } },
                "open_incidents": { "type": "array", "items": { "type": "integer" } }
            }
        },
        "Task": {
            "type": "object",
            "properties": {
                "key": { "type": "string" }, "agent": nullable("string"), "name": { "type": "string" },
                "description": nullable("string"),
                "priority": { "type": "string", "enum": ["high", "medium", "low"] },
                "kind": { "type": "string", "enum": ["runnable", "external", "documented"] },
                "schedule": {}, "on": {},
                "action": { "type": ["string", "null"], "enum": ["check", "http", "exec", "report", "restart", "start", "stop", "external", null] },
                "enabled": { "type": "boolean" }, "retries": { "type": "integer" }, "timeout_ms": { "type": "integer" },
                "next_run": nullable("integer"),
                "runs": { "type": "integer" }, "succeeded": { "type": "integer" }, "failed": { "type": "integer" },
                "success_rate": nullable("number"), "p50_ms": nullable("number"), "p95_ms": nullable("number"),
                "last": { "oneOf": [schema_ref("Run"), { "type": "null" }] }
            }
        },
        "Run": {
            "type": "object",
            "required": ["id", "task", "state", "attempt"],
            "properties": {
                "id": { "type": "integer" }, "task": { "type": "string" }, "agent": nullable("string"),
                "priority": { "type": "string", "enum": ["high", "medium", "low"] },
                "state": { "type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"] },
                "attempt": { "type": "integer" }, "max_attempts": { "type": "integer" },
                "external": { "type": "boolean" }, "dedupe": nullable("string"), "trigger": {},
                "enqueued_at": { "type": "integer" }, "run_at": { "type": "integer" },
                "started_at": nullable("integer"), "finished_at": nullable("integer"),
                "worker": nullable("string"), "lease_until": nullable("integer"),
                "output": nullable("string"), "error": nullable("string"),
                "elapsed_ms": { "type": "integer", "description": "`GET /queue` only: how long it has been running" }
            }
        },
        "Incident": {
            "type": "object",
            "required": ["id", "task", "state", "chain"],
            "properties": {
                "id": { "type": "integer" }, "task": { "type": "string" }, "agent": nullable("string"),
                "run": { "type": "integer" }, "reason": { "type": "string" },
                "state": { "type": "string", "enum": ["open", "resolved"] },
                "opened_at": { "type": "integer" }, "failures": { "type": "integer" },
                "resolved_at": nullable("integer"), "resolution": nullable("string"),
                "chain": { "type": "array", "items": { "type": "object", "properties": {
                    "agent": { "type": "string" }, "at": { "type": "integer" },
                    "outcome": { "type": "string", "enum": ["pending", "handled", "failed", "no-handler"] },
                    "run": nullable("integer")
                } } }
            }
        }
    })
}

/// The routes of alerting (`docs/alerts.md`).
fn alerts_paths() -> Value {
    let matchers = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "service": { "type": "string" }, "group": { "type": "string" },
            "tag": { "type": "string" }, "rule": { "type": "string" }
        }
    });
    json!({
        "/api/v1/alerts": { "get": {
            "summary": "Alerts, newest first",
            "parameters": [
                query("open", "Only pending and firing alerts", json!({ "type": "boolean" })),
                query("service", "Only this service's alerts", json!({ "type": "string" })),
                query("before", "Only ids lower than this (paging)", json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX })),
                query("limit", "At most this many (1 to 1000; 100 by default)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
            ],
            "responses": with_errors(ok("The alerts", "application/json", json!({
                "type": "object", "properties": { "alerts": { "type": "array", "items": schema_ref("Alert") } }
            })), &["400", "500"])
        }},
        "/api/v1/alerts/{id}": { "get": {
            "summary": "One alert and its delivery log",
            "parameters": [integer_path("id")],
            "responses": with_errors(ok("The alert with `deliveries`", "application/json", schema_ref("Alert")), &["400", "404", "500"])
        }},
        "/api/v1/alerts/{id}/ack": { "post": {
            "summary": "Acknowledges an alert: no more reminders or escalation",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": {
                "type": "object", "additionalProperties": false,
                "properties": { "by": { "type": "string", "minLength": 1, "maxLength": 200 } }
            } } } },
            "responses": with_errors(ok("The alert afterwards", "application/json", schema_ref("Alert")), &["400", "401", "403", "404", "409", "500"])
        }},
        "/api/v1/silences": {
            "get": {
                "summary": "Silences, newest first",
                "parameters": [query("active", "Only those in force now", json!({ "type": "boolean" }))],
                "responses": with_errors(ok("The silences", "application/json", json!({
                    "type": "object", "properties": { "silences": { "type": "array", "items": schema_ref("Silence") } }
                })), &["400", "500"])
            },
            "post": {
                "summary": "Creates a silence",
                "security": [{ "bearer": [] }],
                "requestBody": json_body(json!({
                    "type": "object", "additionalProperties": false,
                    "required": ["matchers", "created_by", "comment"],
                    "properties": {
                        "matchers": matchers,
                        "duration": { "type": "string", "description": "How long from `starts_at` (`2h`); or give `ends_at`" },
                        "ends_at": { "type": "integer", "description": "Unix ms" },
                        "starts_at": { "type": "integer", "description": "Unix ms; now by default" },
                        "created_by": { "type": "string", "minLength": 1, "maxLength": 200 },
                        "comment": { "type": "string", "minLength": 1, "maxLength": 2000 }
                    }
                })),
                "responses": with_errors(json!({ "201": { "description": "The silence", "content": { "application/json": { "schema": schema_ref("Silence") } } } }), &["400", "401", "403", "409", "500"])
            }
        },
        "/api/v1/services/{id}/results": { "post": {
            "summary": "Pushes a result of the service instead of probing it (a cron job, a batch, a service reporting itself): applied like a probe result (status, history, events). Needs the admin or operate token, or the push token of this service (`iza token --scope push:<id>`). The service must have a check; a `push` check goes down when no result arrives within its `expect_every`.",
            "parameters": [id_parameter()],
            "security": [{ "bearer": [] }],
            "requestBody": json_body(json!({
                "type": "object", "additionalProperties": false,
                "properties": {
                    "up": { "type": "boolean", "description": "Up or down; or give `status`" },
                    "status": { "type": "string", "enum": ["up", "down", "degraded"] },
                    "degraded": { "type": "boolean", "description": "Failing but not down: counts as a failure, shown degraded until `failure_threshold`" },
                    "message": { "type": "string", "maxLength": 4096 },
                    "latency_ms": { "type": "number", "minimum": 0, "maximum": 86400000u64, "description": "`[RESPONSE_TIME]`" }
                }
            })),
            "responses": with_errors(ok("The result as applied, and the service's status afterwards", "application/json", json!({
                "type": "object",
                "properties": {
                    "service": { "type": "string" },
                    "result": { "type": "object" },
                    "status": { "type": "object" }
                }
            })), &["400", "401", "403", "404", "409", "503"])
        }},
        "/api/v1/silences/{id}": { "delete": {
            "summary": "Ends a silence now",
            "parameters": [integer_path("id")],
            "security": [{ "bearer": [] }],
            "responses": with_errors(ok("The silence afterwards", "application/json", schema_ref("Silence")), &["400", "401", "403", "404", "409", "500"])
        }}
    })
}

/// The schemas of alerting.
fn alerts_schemas() -> Value {
    let nullable = |kind: &str| json!({ "type": [kind, "null"] });
    let strings = json!({ "type": "array", "items": { "type": "string" } });
    json!({
        "Alert": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" }, "rule": { "type": "string" }, "service": { "type": "string" },
                "severity": { "type": "string", "enum": ["critical", "warning", "info"] },
                "state": { "type": "string", "enum": ["pending", "firing", "resolved"] },
                "status": { "type": "string" }, "impacted": strings, "reason": nullable("string"),
                "started_at": { "type": "integer" }, "fired_at": nullable("integer"),
                "updated_at": { "type": "integer" }, "resolved_at": nullable("integer"),
                "acknowledged_at": nullable("integer"), "acknowledged_by": nullable("string"),
                "suppressed_by": nullable("string"), "escalated_to": strings,
                "seq": { "type": "integer" }, "notified_seq": { "type": "integer" },
                "last_notified_at": nullable("integer"),
                "deliveries": { "type": "array", "items": schema_ref("Delivery") }
            }
        },
        "Delivery": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" }, "alert": { "type": "integer" },
                "transition": { "type": "string" }, "notifier": { "type": "string" },
                "run": nullable("integer"),
                "state": { "type": "string", "enum": ["queued", "sent", "failed", "suppressed"] },
                "at": { "type": "integer" }, "finished_at": nullable("integer"),
                "attempts": { "type": "integer" }, "latency_ms": nullable("number"), "error": nullable("string")
            }
        },
        "Silence": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "matchers": { "type": "object" },
                "starts_at": { "type": "integer" }, "ends_at": { "type": "integer" },
                "created_by": { "type": "string" }, "comment": { "type": "string" },
                "created_at": { "type": "integer" }
            }
        }
    })
}

/// The routes of business figures (`docs/metrics.md`).
fn figures_paths() -> Value {
    let string_path = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    json!({
        "/api/v1/figures": { "get": {
            "summary": "Business figures: each with its value per service, group and ecosystem, and the claims beside what is measured",
            "responses": with_errors(ok("The figures", "application/json", schema_ref("Figures")), &["500"])
        }},
        "/api/v1/figures/{service}/{figure}": { "get": {
            "summary": "One figure's history, oldest first (raw samples or hourly rollups)",
            "parameters": [
                string_path("service"),
                string_path("figure"),
                query("since", "Unix ms; 24 hours ago by default", json!({ "type": "integer" })),
                query("resolution", "`raw` (default) or `hour`", json!({ "type": "string", "enum": ["raw", "hour"] })),
                query("limit", "The newest points kept (1 to 10000; 500 by default)", json!({ "type": "integer", "minimum": 1, "maximum": 10000 }))
            ],
            "responses": with_errors(ok("The history", "application/json", schema_ref("FigureSeries")), &["400", "404", "500"])
        }}
    })
}

/// The schemas of business figures.
fn figures_schemas() -> Value {
    let nullable = |kind: &str| json!({ "type": [kind, "null"] });
    let value = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "value": nullable("number"), "display": nullable("string"),
            "at": { "type": "integer" }, "error": { "type": "string" }
        }
    });
    let format = json!({ "type": "string", "enum": ["currency", "percent", "count", "number"] });
    let aggregate = json!({ "type": "string", "enum": ["sum", "avg", "min", "max", "last"] });
    json!({
        "Figures": {
            "type": "object",
            "properties": {
                "figures": { "type": "array", "items": { "type": "object", "properties": {
                    "name": { "type": "string" }, "label": { "type": "string" }, "unit": { "type": "string" },
                    "format": format, "aggregate": aggregate,
                    "value": nullable("number"), "display": nullable("string"),
                    "groups": { "type": "array", "items": value },
                    "services": { "type": "array", "items": value }
                } } },
                "claims": { "type": "array", "items": { "type": "object", "properties": {
                    "label": { "type": "string" }, "claimed": { "type": "string" }, "figure": { "type": "string" },
                    "measured": nullable("number"), "display": nullable("string")
                } } }
            }
        },
        "FigureSeries": {
            "type": "object",
            "properties": {
                "service": { "type": "string" }, "figure": { "type": "string" }, "label": { "type": "string" },
                "unit": nullable("string"), "format": format, "aggregate": aggregate,
                "resolution": { "type": "string", "enum": ["raw", "hour"] },
                "points": { "type": "array", "items": { "type": "object", "properties": {
                    "at": { "type": "integer" }, "count": { "type": "integer" },
                    "min": { "type": "number" }, "max": { "type": "number" },
                    "avg": { "type": "number" }, "last": { "type": "number" }
                } } }
            }
        }
    })
}
/// The nodes sharing the store (`docs/scale-out.md`).
fn nodes_paths() -> Value {
    let nullable = |kind: &str| json!({ "type": [kind, "null"] });
    json!({
        "/api/v1/nodes": { "get": {
            "summary": "The nodes sharing this server's store: health, region, version, checks leased",
            "responses": with_errors(ok("The nodes", "application/json", json!({
                "type": "object",
                "properties": {
                    "shared": { "type": "boolean", "description": "false on the embedded store (one node, no registry)" },
                    "this": nullable("string"),
                    "lease_ms": { "type": "integer" },
                    "checks_leased": { "type": "integer" },
                    "nodes": { "type": "array", "items": { "type": "object", "properties": {
                        "id": { "type": "string" }, "host": { "type": "string" },
                        "region": nullable("string"), "version": { "type": "string" },
                        "started_at": { "type": "integer" }, "heartbeat_at": { "type": "integer" },
                        "alive": { "type": "boolean" }, "this": { "type": "boolean" },
                        "checks": { "type": "integer", "description": "Checks whose lease it holds now" }
                    } } }
                }
            })), &["500"])
        }}
    })
}

/// The event outputs (`docs/events.md`).
fn outputs_paths() -> Value {
    json!({
        "/api/v1/outputs": { "get": {
            "summary": "The event outputs (docs/events.md): outbox depth and lag, published, dropped, failures",
            "responses": with_errors(ok("The outputs, in manifest order", "application/json", json!({
                "type": "object", "required": ["outputs"],
                "properties": { "outputs": { "type": "array", "items": {
                    "type": "object",
                    "required": ["id", "kind", "url", "depth", "lag_ms", "published", "dropped", "failures", "healthy"],
                    "properties": {
                        "id": { "type": "string" },
                        "kind": { "type": "string", "enum": ["nats", "amqp", "mqtt", "webhook"] },
                        "url": { "type": "string", "description": "credentials masked" },
                        "depth": { "type": "integer", "minimum": 0 },
                        "lag_ms": { "type": "integer", "minimum": 0 },
                        "published": { "type": "integer", "minimum": 0 },
                        "dropped": { "type": "integer", "minimum": 0 },
                        "failures": { "type": "integer", "minimum": 0 },
                        "healthy": { "type": "boolean" },
                        "last_error": { "type": ["string", "null"] },
                        "last_published_at": { "type": ["integer", "null"] }
                    }
                } } }
            })), &["500"])
        }}
    })
}

/// The workflow engines (`docs/workflows.md`).
fn workflows_paths() -> Value {
    let string_path = |name: &str, description: &str| json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } });
    json!({
        "/api/v1/workflows": { "get": {
            "summary": "The workflow engines IZA follows (degraded first), each with its verdict by the manifest's rules and its workflows (failing first): runs by status, success rate, p50/p95 over 1h, 24h and 7d, the last failure with its error, node, execution id and a link into the engine's UI",
            "parameters": [
                query("engine", "Only this engine: its service id, or `n8n` / `activepieces` for every engine of that kind (none matching: 404)", json!({ "type": "string" })),
                query("failing", "`true`: only the failing workflows", json!({ "type": "boolean" }))
            ],
            "responses": with_errors(ok("The engines", "application/json", schema_ref("Workflows")), &["400", "404", "500"])
        }},
        "/api/v1/workflows/{service}/{workflow}": { "get": {
            "summary": "One workflow (by id, or by name) of an engine, with its figures and its newest executions",
            "parameters": [
                string_path("service", "The engine's service id"),
                string_path("workflow", "The workflow's id in the engine, or its name"),
                query("limit", "The newest executions shown (1 to 500; 50 by default)", json!({ "type": "integer", "minimum": 1, "maximum": 500 }))
            ],
            "responses": with_errors(ok("The workflow", "application/json", json!({
                "type": "object",
                "properties": {
                    "service": { "type": "string" }, "engine": { "type": "string", "enum": ["n8n", "activepieces"] },
                    "ui_url": { "type": "string" },
                    "workflow": schema_ref("Workflow"),
                    "executions": { "type": "array", "items": schema_ref("WorkflowExecution") }
                }
            })), &["400", "404", "500"])
        }},
        "/api/v1/workflows/{service}/executions/{id}/retry": { "post": {
            "summary": "Retries an execution through the engine's API (n8n `POST /api/v1/executions/{id}/retry`, Activepieces `POST /api/v1/flow-runs/{id}/retry`); needs the operate or admin token. The engine's 404 answers 404 `unknown-execution`, its 409 (n8n: the execution had succeeded) 409 `conflict`, anything else it answers 502 `engine-failed`",
            "parameters": [
                string_path("service", "The engine's service id"),
                string_path("id", "The execution's id in the engine")
            ],
            "security": [{ "bearer": [] }],
            "responses": with_errors(ok("The new execution", "application/json", json!({
                "type": "object",
                "properties": {
                    "service": { "type": "string" }, "retried": { "type": "string" },
                    "execution": schema_ref("WorkflowExecution")
                }
            })), &["401", "403", "404", "409", "502"])
        }}
    })
}

/// The schemas of the workflow engines.
fn workflows_schemas() -> Value {
    let nullable = |kind: &str| json!({ "type": [kind, "null"] });
    let window = json!({
        "type": "object",
        "properties": {
            "runs": { "type": "integer" },
            "by_status": { "type": "object", "additionalProperties": { "type": "integer" } },
            "success_rate": nullable("number"), "p50_ms": nullable("integer"), "p95_ms": nullable("integer")
        }
    });
    json!({
        "Workflows": {
            "type": "object",
            "properties": {
                "at": { "type": "integer" },
                "windows": { "type": "array", "items": { "type": "string" } },
                "engines": { "type": "array", "items": { "type": "object", "properties": {
                    "service": { "type": "string" }, "name": { "type": "string" },
                    "engine": { "type": "string", "enum": ["n8n", "activepieces"] },
                    "url": { "type": "string" }, "ui_url": { "type": "string" },
                    "status": { "type": "string", "enum": ["ok", "degraded"] },
                    "message": { "type": "string" },
                    "failing": { "type": "integer" }, "workflows_known": { "type": "integer" },
                    "rules": { "type": "object" },
                    "follower": { "type": ["object", "null"], "description": "The follower's last round: `at`, `caught_up`, `error`", "properties": {
                        "at": { "type": "integer" }, "caught_up": { "type": "boolean" }, "error": nullable("string")
                    } },
                    "workflows": { "type": "array", "items": schema_ref("Workflow") }
                } } }
            }
        },
        "Workflow": {
            "type": "object",
            "properties": {
                "id": { "type": "string" }, "name": { "type": "string" }, "active": { "type": "boolean" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "failing": { "type": "boolean" },
                "reasons": { "type": "array", "items": { "type": "string" } },
                "windows": { "type": "object", "properties": { "1h": window.clone(), "24h": window.clone(), "7d": window } },
                "last_run_at": nullable("integer"), "last_success_at": nullable("integer"),
                "oldest_running_at": nullable("integer"),
                "last_failure": { "type": ["object", "null"], "properties": {
                    "workflow_id": { "type": "string" }, "execution_id": { "type": "string" },
                    "at": { "type": "integer" }, "message": { "type": "string" }, "node": nullable("string")
                } },
                "last_failure_url": nullable("string")
            }
        },
        "WorkflowExecution": {
            "type": "object",
            "properties": {
                "id": { "type": "string" },
                "status": { "type": "string", "enum": ["success", "error", "crashed", "canceled", "running", "waiting", "new", "unknown"] },
                "failed": { "type": "boolean" }, "mode": nullable("string"),
                "started_at": { "type": "integer" }, "stopped_at": nullable("integer"),
                "duration_ms": nullable("integer"), "retry_of": nullable("string"),
                "url": { "type": "string", "description": "The execution in the engine's own UI" }
            }
        }
    })
}

/// The audit log (`docs/mcp.md`, "The audit log").
fn audit_paths() -> Value {
    let text = || json!({ "type": "string" });
    json!({
        "/api/v1/audit": { "get": {
            "summary": "The audit log, newest first, paged: every MCP tool call (IZA's own and the hub's) and every mutating API call, with who made it (the token's name, never the token), the arguments (secrets masked), the outcome and the duration. Admin token only.",
            "parameters": [
                event_id("before", "Only records with a lower id (the previous page's `next`)"),
                query("tool", "Only calls of this tool (`run_task`, `github__create_issue`, `POST /api/v1/runs`)", text()),
                query("client", "Only calls of this client: `admin`, `operate`, `read`, `anonymous`", text()),
                query("outcome", "Only calls that ended so", json!({ "type": "string", "enum": ["ok", "error", "denied", "rate-limited"] })),
                query("since", "Only calls received at or after this time (Unix ms)", json!({ "type": "integer" })),
                query("limit", "At most this many, 1 to 1000 (default 100)", json!({ "type": "integer", "minimum": 1, "maximum": 1000 }))
            ],
            "responses": with_errors(ok("A page of the audit log", "application/json", json!({
                "type": "object", "required": ["records", "next"],
                "properties": {
                    "records": { "type": "array", "items": {
                        "type": "object",
                        "required": ["id", "at", "surface", "client", "scope", "tool", "arguments", "arguments_sha256", "outcome", "duration_ms"],
                        "properties": {
                            "id": { "type": "integer" },
                            "at": { "type": "integer", "description": "When the call was received (Unix ms)" },
                            "surface": { "type": "string", "enum": ["mcp", "api"] },
                            "client": { "type": "string", "description": "The token's name (`admin`, `operate`, `read`), `anonymous`, or `push`" },
                            "scope": { "type": "string" },
                            "tool": { "type": "string", "description": "The tool as the client named it, or `METHOD /path` of an API call" },
                            "upstream": { "type": ["string", "null"], "description": "The upstream MCP server of a federated tool" },
                            "arguments": { "description": "The arguments (an API call's JSON body), secrets masked as `***`" },
                            "arguments_sha256": { "type": "string", "description": "SHA-256 (hex) of the stored arguments" },
                            "outcome": { "type": "string", "enum": ["ok", "error", "denied", "rate-limited"] },
                            "duration_ms": { "type": "number" },
                            "message": { "type": ["string", "null"], "description": "Why it failed or was refused" }
                        }
                    } },
                    "next": { "type": ["integer", "null"], "description": "Pass as `before` for the next page; null on the last page" }
                }
            })), &["400", "401", "403", "500"])
        }}
    })
}
