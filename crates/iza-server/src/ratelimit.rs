//! Per-client rate limits on `/mcp` (`iza serve --mcp-rate-limit 50/s`): a token bucket for
//! each client, the client being its bearer token (only a hash of it is kept) or, without one,
//! "anonymous". A client over its rate gets `429 Too Many Requests` with `Retry-After` (whole
//! seconds until a request fits) and a JSON-RPC error saying so. Every MCP message counts (a
//! session's `initialize` and notifications as much as a `tools/call`). Off unless configured.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A rate: `count` requests per `per`, with bursts of up to `count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed per period (also the burst).
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl Rate {
    /// Parses `N/s`, `N/m` (or `N/min`) and `N/h`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (count, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a rate; write it like `50/s` or `600/m`"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("`{count}` is not a positive whole number"))?;
        let per = match unit.trim() {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            other => {
                return Err(format!(
                    "`{other}` is not a unit of a rate: use `s`, `m` or `h`"
                ));
            }
        };
        Ok(Rate { count, per })
    }
}

/// Parses `TOOL=RATE` (`run_task=10/m`), the per-tool limit of `--mcp-tool-rate-limit`.
pub fn parse_tool_rate(text: &str) -> Result<(String, Rate), String> {
    let (tool, rate) = text
        .rsplit_once('=')
        .filter(|(tool, _)| !tool.trim().is_empty())
        .ok_or_else(|| format!("`{text}` is not `TOOL=RATE`; write it like `run_task=10/m`"))?;
    Ok((tool.trim().to_owned(), Rate::parse(rate)?))
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every client.
#[derive(Clone)]
pub(crate) struct RateLimiter {
    rate: Rate,
    buckets: Arc<Mutex<HashMap<u64, Bucket>>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: Rate) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Arc::default(),
        }
    }

    /// Takes one request of `client`: `Ok`, or how long until one fits.
    fn take(&self, client: u64, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.rate.count);
        let per_second = capacity / self.rate.per.as_secs_f64();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget full buckets rather than grow without bound.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second)
            .min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// The client of a request: a hash of its `Authorization` header, or 0 without one.
fn client_of(request: &Request) -> u64 {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .map_or(0, |value| {
            let mut hasher = DefaultHasher::new();
            value.as_bytes().hash(&mut hasher);
            hasher.finish() | 1
        })
}

/// The middleware of `/mcp`.
pub(crate) async fn limit(
    State(limiter): State<Option<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    match limiter.take(client_of(&request), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": -32000,
                    "message": format!(
                        "rate limit: this client may send {} MCP requests per {}; retry in {seconds} s",
                        limiter.rate.count,
                        humantime::format_duration(limiter.rate.per)
                    ),
                    "data": { "retry_after_seconds": seconds }
                }
            });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("50/s"),
            Ok(Rate {
                count: 50,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!(
            Rate::parse("600/m").map(|r| r.per),
            Ok(Duration::from_secs(60))
        );
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("5").is_err());
        assert!(Rate::parse("5/d").is_err());
    }

    #[test]
    fn buckets_refill_per_client() {
        let limiter = RateLimiter::new(Rate {
            count: 2,
            per: Duration::from_secs(1),
        });
        let t0 = Instant::now();
        assert!(limiter.take(7, t0).is_ok());
        assert!(limiter.take(7, t0).is_ok());
        let wait = limiter.take(7, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        // Another client has its own bucket.
        assert!(limiter.take(8, t0).is_ok());
        // Half a second later one request fits again.
        assert!(limiter.take(7, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter.take(7, t0 + Duration::from_millis(500)).is_err());
    }
}
