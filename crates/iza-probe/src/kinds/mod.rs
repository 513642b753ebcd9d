//! The check kinds, one module each, and [`run`], which dispatches a check to its kind. Each
//! kind records what it observes into [`Facts`] as it goes (so a probe cut short by its
//! timeout still reports, say, that it connected) and returns the error that stopped it.

pub(crate) mod amqp;
pub(crate) mod amqp_flow;
pub(crate) mod browser;
pub(crate) mod dns;
pub(crate) mod exec;
pub(crate) mod http;
pub(crate) mod mcp;
pub(crate) mod mqtt;
pub(crate) mod nats;
pub(crate) mod postgres;
pub(crate) mod redis;
pub(crate) mod round_trip;
pub(crate) mod tcp;
pub(crate) mod tls;

use iza_catalog::model::{Check, CheckTarget};

use crate::result::{Facts, Failure};
use crate::{ProbeContext, Prober};

/// Runs the check's kind once.
pub(crate) async fn run(
    prober: &Prober,
    check: &Check,
    context: &ProbeContext,
    page: Option<crate::browser::Slot>,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let page = || {
        page.ok_or_else(|| {
            Failure::new(
                crate::result::Reason::Browser,
                "a browser check was run without a browser page",
            )
        })
    };
    match &check.target {
        CheckTarget::Http(url) => http::probe(prober, url, check, facts).await,
        CheckTarget::Tcp(target) => tcp::probe(target, facts).await,
        CheckTarget::Tls(target) => tls::probe(prober, target, check.verify_tls, facts).await,
        CheckTarget::Dns(target) => dns::probe(prober, target, &check.record, facts).await,
        CheckTarget::Exec(argv) => exec::probe(prober, argv, check.shell, context, facts).await,
        CheckTarget::Postgres(url) => postgres::probe(url, facts).await,
        CheckTarget::Redis(url) => redis::probe(prober, url, check.verify_tls, facts).await,
        CheckTarget::Amqp(url) => amqp::probe(prober, url, check.verify_tls, facts).await,
        CheckTarget::Mcp(url) => mcp::probe(prober, url, check, facts).await,
        CheckTarget::Browser(target) => {
            browser::probe(prober, page()?, target, check, context, facts).await
        }
        CheckTarget::Compare(target) => {
            browser::compare(prober, page()?, target, check, facts).await
        }
        CheckTarget::Nats(target) => nats::probe(target, check.timeout, facts).await,
        CheckTarget::Mqtt(target) => mqtt::probe(target, check.timeout, facts).await,
        CheckTarget::AmqpRoundTrip(target) => amqp_flow::probe(target, check.timeout, facts).await,
        CheckTarget::Push(_) => Err(Failure::new(
            crate::result::Reason::Target,
            "a push check is not probed: its results are pushed (`POST /api/v1/services/{id}/results` or a broker input)",
        )),
    }
}
