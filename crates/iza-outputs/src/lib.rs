//! The IZA OS event outputs (`[outputs.<id>]`, docs/events.md): every event of the runtime's
//! bus that an output's filter accepts becomes a CloudEvents 1.0 JSON envelope (`envelope`),
//! written to the store's outbox *before* it is published, and removed when the broker
//! acknowledges it (`delivery`); one publisher per output speaks its broker's protocol through
//! the field's client (`publish`: NATS, RabbitMQ, MQTT, webhook). A broker that is down is
//! retried with backoff while its events wait in the outbox, bounded by `max_pending` (the
//! oldest dropped beyond, and counted); when it is back they go out in the order they were
//! written: at least once, with stable ids for de-duplication. A manifest reload starts added
//! outputs, stops removed ones (their outbox stays in the store for their return) and restarts
//! changed ones with their outbox (`delivery::Outputs::reload`).

pub mod delivery;
pub mod envelope;
pub mod publish;

pub use delivery::{OutputStatus, Outputs, OutputsOptions, OutputsReload, SharedDelivery};

/// `text` with every `${NAME}` replaced by the environment variable `NAME` (empty when unset).
pub fn resolve_env(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&std::env::var(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A URL component with its `%XX` escapes decoded.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalog_knows_every_event_kind_of_the_runtime() {
        // The manifest checks `events = [...]` against the catalog's list; it must be the
        // runtime's list. The event module's own test names every kind; sample them here.
        for kind in iza_catalog::model::EVENT_KINDS {
            assert!(
                kind.contains('-') && kind.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{kind}"
            );
        }
        assert_eq!(super::percent_decode("a%2fb"), "a/b");
        assert_eq!(super::resolve_env("x${IZA_SURELY_UNSET_VAR}y"), "xy");
    }
}
