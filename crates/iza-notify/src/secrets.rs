//! Secrets of a notifier: `${NAME}` references in its URL, secret, token, password, header
//! and `env` values (and `command` arguments, `username`, `chat_id`),
//! resolved from the environment only when a message is sent, so that they never live in the
//! catalog, the API, events or logs. An unset variable is an error naming the variable.

use std::sync::Arc;

use iza_catalog::model::Notifier;

use crate::NotifyError;

/// Where `${NAME}` is read: the process environment in `iza`, a map in tests.
#[derive(Clone)]
pub struct Env(Arc<Lookup>);

/// How one variable is looked up.
type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env(Arc::new(|name| std::env::var(name).ok()))
    }

    /// A fixed set of variables.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        let map: std::collections::HashMap<String, String> = pairs.into_iter().collect();
        Env(Arc::new(move |name| map.get(name).cloned()))
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

/// `text` with every `${NAME}` replaced by the variable's value.
pub fn resolve(text: &str, env: &Env) -> Result<String, NotifyError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = env.get(name).ok_or_else(|| {
            NotifyError::Config(format!("the environment variable `{name}` is not set"))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The notifier with its references resolved.
pub(crate) fn resolve_notifier(n: &Notifier, env: &Env) -> Result<Notifier, NotifyError> {
    let opt = |v: &Option<String>| v.as_deref().map(|t| resolve(t, env)).transpose();
    let what = |e: NotifyError| NotifyError::Config(format!("notifier `{}`: {e}", n.id));
    Ok(Notifier {
        url: opt(&n.url).map_err(what)?,
        secret: opt(&n.secret).map_err(what)?,
        token: opt(&n.token).map_err(what)?,
        headers: n
            .headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve(v, env)?)))
            .collect::<Result<_, NotifyError>>()
            .map_err(what)?,
        username: opt(&n.username).map_err(what)?,
        password: opt(&n.password).map_err(what)?,
        chat_id: opt(&n.chat_id).map_err(what)?,
        env: n
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve(v, env)?)))
            .collect::<Result<_, NotifyError>>()
            .map_err(what)?,
        command: n
            .command
            .iter()
            .map(|a| resolve(a, env))
            .collect::<Result<_, NotifyError>>()
            .map_err(what)?,
        ..n.clone()
    })
}

/// The secret values of a resolved notifier (to scrub from error texts): each value whole and,
/// for the URL, each piece of its path and query of 6 characters or more (a receiver may
/// quote a token of its own URL back).
pub(crate) fn values(n: &Notifier) -> Vec<String> {
    let mut out: Vec<String> = [&n.url, &n.secret, &n.token, &n.password]
        .into_iter()
        .flatten()
        .cloned()
        .chain(n.headers.values().cloned())
        .chain(n.env.values().cloned())
        .collect();
    if let Some(url) = &n.url {
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let after_host = rest.split_once('/').map_or("", |(_, p)| p);
        out.extend(
            after_host
                .split(['/', '?', '&', '=', '#'])
                .filter(|piece| piece.len() >= 6)
                .map(str::to_owned),
        );
    }
    // Longest first, so that a whole value is replaced before its pieces.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}
