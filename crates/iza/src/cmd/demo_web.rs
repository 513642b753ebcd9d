//! The demo web page of `iza demo-service --web`: a small static site at `/site/` (a home page
//! with a heading, a paragraph and three links, and the `about` and `contact` pages it links
//! to) for browser checks to load and for the QA agent's `compare` task to compare. The page
//! is the same on every port and never names the service, so a faithful replica renders pixel
//! for pixel like its original. `--web-defect` makes it a flawed replica: another heading
//! (`heading`), no contact link (`missing-link`), or both.

use axum::Router;
use axum::response::{Html, Redirect};
use axum::routing::get;
use clap::ValueEnum;

/// A flaw a replica can be served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Defect {
    /// The heading reads differently.
    Heading,
    /// The link to the contact page is missing.
    MissingLink,
}

/// The original heading, and the one a `heading` defect shows instead.
const HEADING: &str = "Fresh fruit, delivered every morning";
const WRONG_HEADING: &str = "Stale vegetables, delivered sometimes";
const CONTACT_LINK: &str = "<a href=\"/site/contact\">Contact us</a>";

/// The home page with the given defects.
pub(crate) fn home(defects: &[Defect]) -> String {
    let heading = if defects.contains(&Defect::Heading) {
        WRONG_HEADING
    } else {
        HEADING
    };
    let contact = if defects.contains(&Defect::MissingLink) {
        ""
    } else {
        CONTACT_LINK
    };
    format!(
        "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Orchard Market</title>
<style>
body {{ margin: 0; font: 16px/1.5 sans-serif; color: #222 }}
header {{ background: #2f5d3a; color: #fff; padding: 32px 40px }}
h1 {{ margin: 0; font-size: 40px }}
main {{ padding: 24px 40px }}
nav a {{ margin-right: 16px; color: #2f5d3a }}
</style></head>
<body>
<header><h1>{heading}</h1></header>
<main>
<p>Apples, pears and plums from the orchard, picked this morning and at your door by noon.</p>
<nav><a href=\"/site/about\">About</a> {contact} <a href=\"/site/\">Home</a></nav>
</main>
</body></html>
"
    )
}

fn page(title: &str, text: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p><a href=\"/site/\">Home</a></body></html>\n"
    ))
}

/// The routes of the demo site: `/site/`, `/site/about`, `/site/contact` (and `/site`, which
/// redirects to `/site/`).
pub(crate) fn router(defects: Vec<Defect>) -> Router {
    let home_page = home(&defects);
    Router::new()
        .route("/site", get(|| async { Redirect::permanent("/site/") }))
        .route(
            "/site/",
            get(move || {
                let body = home_page.clone();
                async move { Html(body) }
            }),
        )
        .route(
            "/site/about",
            get(|| async { page("About", "A demo site served by `iza demo-service --web`.") }),
        )
        .route(
            "/site/contact",
            get(|| async { page("Contact", "Write to orchard@example.org.") }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_defect_changes_what_it_names_and_nothing_else() {
        let original = home(&[]);
        assert!(original.contains(HEADING) && original.contains(CONTACT_LINK));
        let heading = home(&[Defect::Heading]);
        assert!(heading.contains(WRONG_HEADING) && heading.contains(CONTACT_LINK));
        assert_eq!(heading.replace(WRONG_HEADING, HEADING), original);
        let link = home(&[Defect::MissingLink]);
        assert!(link.contains(HEADING) && !link.contains("/site/contact"));
        let both = home(&[Defect::Heading, Defect::MissingLink]);
        assert!(!both.contains(HEADING) && !both.contains("/site/contact"));
    }
}
