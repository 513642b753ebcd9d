//! `iza token`: prints the API's bearer token (creating the token file on first use) or
//! rotates it; with `--read-only` (`--scope read`), `--scope operate` or `--scope
//! push:<service>`, makes a client token (`.iza/read-token`, `.iza/operate-token`,
//! `.iza/push-tokens/<service>`) whose file keeps only its hash, and shows it this once (or
//! rotates it). The token goes to stdout and nothing else does, so `TOKEN=$(iza token)` works;
//! where the file is goes to stderr. The file's rules (mode 0600, atomic writes) are
//! `iza_server::auth`'s.

use std::process::ExitCode;

use anyhow::Result;
use iza_server::TokenFile;

use crate::cli::{McpScope, TokenArgs, TokenScope};
use crate::manifest_input;

pub(crate) fn run(args: &TokenArgs) -> Result<ExitCode> {
    let scope = match (args.read_only, &args.scope) {
        (true, _) => McpScope::Read,
        (false, Some(TokenScope::Push(service))) => return push(args, service),
        (false, Some(TokenScope::Api(scope))) => *scope,
        (false, None) => McpScope::Admin,
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
    let token = if scope != McpScope::Admin {
        client_token(&file, what, args.rotate)?
    } else if args.rotate {
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

/// A token handed to a client (read, operate, push): its file keeps only its hash, so it is
/// shown once, when made (or rotated). A file an older version wrote in clear is shown this
/// last time and hashed.
fn client_token(file: &TokenFile, what: &str, rotate: bool) -> Result<iza_server::Token> {
    let path = file.path().display();
    if rotate {
        let token = file.rotate_hashed()?;
        eprintln!(
            "rotated the {what} in `{path}`: the old one is refused from now on; the file keeps \
             only its hash, so this is the one time it is shown"
        );
        return Ok(token);
    }
    if let Some(token) = file.create_hashed()? {
        eprintln!(
            "created the {what} file `{path}` (mode 0600, the token's hash only): this is the \
             one time the token is shown"
        );
        return Ok(token);
    }
    let token = file.load()?;
    file.hash_in_place()?;
    eprintln!(
        "the {what} file `{path}` held the token in clear (an older iza): shown this last \
         time, and now stored hashed"
    );
    Ok(token)
}

/// `--scope push:<service>`: the push token of one service (`.iza/push-tokens/<service>`),
/// for a manifest that has that service.
fn push(args: &TokenArgs, service: &str) -> Result<ExitCode> {
    let file = match &args.file {
        Some(path) => TokenFile::new(path),
        None => {
            let manifest = iza_catalog::resolve(&args.path)?;
            let source = iza_catalog::load(&manifest)?;
            let catalog = iza_catalog::check(&source).catalog.ok_or_else(|| {
                anyhow::anyhow!(
                    "`{}` does not validate (`iza check` says why)",
                    manifest.display()
                )
            })?;
            if !catalog.services.contains_key(service) {
                anyhow::bail!(
                    "the manifest `{}` has no service `{service}`",
                    manifest.display()
                );
            }
            let db = manifest_input::state_db(&manifest);
            TokenFile::push_beside(&db, service).ok_or_else(|| {
                anyhow::anyhow!("the service id `{service}` cannot name a token file")
            })?
        }
    };
    let token = client_token(&file, &format!("push token of `{service}`"), args.rotate)?;
    super::print(&format!("{}\n", token.as_str()))?;
    Ok(ExitCode::SUCCESS)
}
