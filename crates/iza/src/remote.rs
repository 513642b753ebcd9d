//! Connects a command to the running instance it operates (`iza ps`, `iza logs`,
//! `iza start|stop|restart`): the server `--url` names, or the one announced for the manifest
//! (`instance.rs`), with the bearer token of `--token`, `IZA_TOKEN` or `.iza/token` beside the
//! manifest. The conversation itself is `client.rs`'s.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::RemoteArgs;
use crate::client::ApiClient;
use crate::{instance, manifest_input};

/// No server runs for the manifest and none was named.
#[derive(Debug, thiserror::Error)]
#[error("no `iza up` or `iza serve` runs for `{}`", manifest.display())]
pub(crate) struct NoServer {
    pub(crate) manifest: PathBuf,
}

/// A client of the running instance, with the token when one is known.
pub(crate) fn connect(remote: &RemoteArgs) -> Result<ApiClient> {
    let manifest = iza_catalog::resolve(&remote.manifest.path).ok();
    let url = match (&remote.url, &manifest) {
        (Some(url), _) => url.clone(),
        (None, Some(manifest)) => match instance::find(manifest) {
            Some(found) => found.url,
            None => {
                return Err(NoServer {
                    manifest: manifest.clone(),
                }
                .into());
            }
        },
        (None, None) => {
            return Err(NoServer {
                manifest: remote.manifest.path.clone(),
            }
            .into());
        }
    };
    let token = remote.token.clone().or_else(|| {
        let manifest = manifest?;
        let text =
            std::fs::read_to_string(manifest_input::state_dir(&manifest).join("token")).ok()?;
        Some(text.trim().to_owned()).filter(|t| !t.is_empty())
    });
    Ok(ApiClient::new(&url)?.with_token(token))
}
