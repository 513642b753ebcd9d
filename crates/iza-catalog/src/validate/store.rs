//! Checks `[store]`: a `url` is present, its `${NAME}` references are well formed, a literal URL
//! names a store this build knows (`postgres://`, `postgresql://`, `sqlite:`), and a password is
//! not written into the manifest (a warning). Builds the catalog's [`StoreConfig`].

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::store::{StoreConfig, UrlPart, parse_url};

const SCHEMES: &[&str] = &["postgres://", "postgresql://", "sqlite:"];

pub(super) fn build(ctx: &mut Ctx<'_>) -> Option<StoreConfig> {
    let store = ctx.raw.store.as_ref()?;
    let Some(url) = &store.get().url else {
        ctx.push(
            Diagnostic::error(Code::InvalidStoreUrl, "`[store]` has no `url`")
                .at(store.span())
                .hint("write `url = \"${IZA_DATABASE_URL}\"` and set that variable, or remove `[store]` to keep the SQLite default"),
        );
        return None;
    };
    let parts = match parse_url(url.get()) {
        Ok(parts) => parts,
        Err(error) => {
            ctx.push(
                Diagnostic::error(Code::InvalidStoreUrl, format!("`[store] url`: {error}"))
                    .at(url.span())
                    .hint("a reference is written `${NAME}`; write `$$` for a literal `$`"),
            );
            return None;
        }
    };
    // Only a URL that starts with literal text can be judged before it is resolved.
    if let Some(UrlPart::Text(head)) = parts.first() {
        if !SCHEMES.iter().any(|scheme| head.starts_with(scheme)) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidStoreUrl,
                    format!("`{}` is not a store URL this build knows", first_word(head)),
                )
                .at(url.span())
                .hint("use `postgres://user@host:5432/database` or `sqlite:PATH`"),
            );
            return None;
        }
        let authority = head.split_once("://").map_or("", |(_, rest)| rest);
        let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
        let literal_password = authority
            .rsplit_once('@')
            .and_then(|(user_info, _)| user_info.split_once(':'))
            .is_some_and(|(_, password)| !password.is_empty());
        let query_password = head.contains("password=");
        if literal_password || query_password {
            ctx.push(
                Diagnostic::warning(
                    Code::StorePasswordInManifest,
                    "`[store] url` holds a password written into the manifest",
                )
                .at(url.span())
                .hint("write `url = \"${IZA_DATABASE_URL}\"` (or `postgres://user:${PGPASSWORD}@host/db`) and keep the password in the environment"),
            );
        }
    }
    Some(StoreConfig {
        url: url.get().clone(),
    })
}

fn first_word(text: &str) -> &str {
    let end = text.find("://").map_or_else(
        || text.find(':').map_or(text.len().min(24), |colon| colon + 1),
        |index| index + 3,
    );
    &text[..end]
}
