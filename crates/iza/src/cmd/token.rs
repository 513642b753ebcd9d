//! `iza token`: prints the API's bearer token (creating the token file on first use) or
//! rotates it; with `--read-only` (`--scope read`), the same for the read-only token
//! (`.iza/read-token`), with `--scope operate` for the operate token (`.iza/operate-token`). The token goes to stdout and nothing else does, so `TOKEN=$(iza token)` works;
//! where the file is goes to stderr. The file's rules (mode 0600, atomic writes) are
//! `iza_server::auth`'s.

use std::process::ExitCode;

use anyhow::Result;
use iza_server::TokenFile;

use crate::cli::{McpScope, TokenArgs};
use crate::manifest_input;

pub(crate) fn run(args: &TokenArgs) -> Result<ExitCode> {
    let scope = match (args.read_only, args.scope) {
        (true, _) => McpScope::Read,
        (false, scope) => scope.unwrap_or(McpScope::Admin),
    };
    let file = match &args.file {
        Some(path) => TokenFile::new(path),
        None => {
            let manifest = iza_catalog::resolve(&args.path)?;
            // The token belongs to a manifest that exists: a typo must not create a token
            // file somewhere else.
            if let Err(source) = std::fs::metadata(&manifest) {
                return Err(iza_catalog::LoadError::Read {
                    path: manifest,
                    source,
                }
                .into());
            }
            let db = manifest_input::state_db(&manifest);
            match scope {
                McpScope::Read => TokenFile::read_only_beside(&db),
                McpScope::Operate => TokenFile::operate_beside(&db),
                McpScope::Admin => TokenFile::beside(&db),
            }
        }
    };
    let path = file.path().display();
    let what = match scope {
        McpScope::Read => "read-only token",
        McpScope::Operate => "operate token",
        McpScope::Admin => "token",
    };
    let token = if args.rotate {
        let token = file.rotate()?;
        eprintln!(
            "rotated the {what} in `{path}`: the old one is refused from now on, and the \
             browser sessions signed in with it end"
        );
        token
    } else {
        let (token, created) = file.load_or_create()?;
        if created {
            eprintln!("created the {what} file `{path}` (mode 0600)");
        } else {
            eprintln!("{what} file `{path}`");
        }
        token
    };
    super::print(&format!("{}\n", token.as_str()))?;
    Ok(ExitCode::SUCCESS)
}
