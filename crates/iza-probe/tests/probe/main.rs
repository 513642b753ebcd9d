//! Integration tests of `iza-probe` against real servers on this machine: HTTP, TLS, DNS and
//! MCP servers the tests start themselves, programs for `exec`, and the PostgreSQL, Redis and
//! RabbitMQ servers on their standard local ports. One binary, one module per kind.

mod browser;
mod dns;
mod exec;
mod http;
mod mcp;
mod round_trip;
mod services;
mod support;
mod tcp_tls;
