//! Connects a command to the running instance it operates (`iza ps`, `iza logs`,
//! `iza start|stop|restart`): the server `--url` names, or the one announced for the manifest
//! (`instance.rs`), with the bearer token of `--token`, `IZA_TOKEN` or `.iza/token` beside the
//! manifest. The conversation itself is `client.rs`'s.

use std::path::PathBuf;

use anyhow::Result;

use iza_server::TokenFile;
use iza_server::auth::AuthError;

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
    let token = match (&remote.token, &manifest) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(manifest)) => {
            let file = TokenFile::beside(&manifest_input::state_db(manifest));
            match file.load() {
                Ok(token) => Some(token.as_str().to_owned()),
                // None yet: reads need none; a call that does is refused with a hint.
                Err(AuthError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    None
                }
                // Exposed or malformed: say so rather than send it.
                Err(err) => return Err(err.into()),
            }
        }
        (None, None) => None,
    };
    Ok(ApiClient::new(&url)?.with_token(token))
}
