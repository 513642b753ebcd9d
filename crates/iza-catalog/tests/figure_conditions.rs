//! Conditions on business figures (docs/metrics.md): `[METRIC].<figure>` in a check's
//! conditions and in an alert rule's `when`, valid when the figure is declared on the service
//! (on a service the rule selects), otherwise reported at the condition with a hint.

use iza_catalog::condition::Placeholder;
use iza_catalog::{Catalog, SourceFile, Syntax};

const HEAD: &str = r#"version = 1
[notifiers.ops]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
[groups.biz]
[services.boss]
group = "biz"
[services.boss.metrics.arr]
prometheus = "http://127.0.0.1:8100/metrics"
[services.boss.metrics.customers]
json = { url = "http://127.0.0.1:8100/figures.json", path = "$.customers" }
[services.plain]
group = "other"
[groups.other]
"#;

fn check(text: &str) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new("x.toml", text.to_owned(), Syntax::Toml))
}

fn compile(text: &str) -> Catalog {
    let checked = check(text);
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    checked.catalog.expect("a catalog")
}

#[test]
fn valid_figure_conditions_compile() {
    let cases: &[(&str, &str)] = &[
        (
            "a check of the service",
            "[services.boss.check]\nhttp = \"http://127.0.0.1:8100/healthz\"\nconditions = [\"[STATUS] == 200\", \"[METRIC].arr >= 1000000\"]\n",
        ),
        (
            "any kind of check",
            "[services.boss.check]\ntcp = \"127.0.0.1:8100\"\nconditions = [\"has([METRIC].customers) == true\"]\n",
        ),
        (
            "a rule on a service",
            "[[alerts]]\nname = \"low arr\"\nservices = [\"boss\"]\nwhen = \"[METRIC].arr < 1000000\"\nnotify = [\"ops\"]\n",
        ),
        (
            "a rule on a group",
            "[[alerts]]\nname = \"few customers\"\ngroups = [\"biz\"]\nwhen = \"[METRIC].customers < 10\"\nnotify = [\"ops\"]\n",
        ),
        (
            "a rule on every service",
            "[[alerts]]\nname = \"low arr\"\nwhen = \"[METRIC].arr < 1000000\"\nnotify = [\"ops\"]\n",
        ),
    ];
    for (what, case) in cases {
        let catalog = compile(&format!("{HEAD}{case}"));
        if let Some(check) = &catalog.services["boss"].check {
            let reads: Vec<_> = check.conditions.iter().flat_map(|c| c.figures()).collect();
            assert_eq!(reads.len(), 1, "{what}");
            assert!(
                check
                    .conditions
                    .iter()
                    .any(|c| c.placeholders().any(Placeholder::is_figure)),
                "{what}"
            );
        } else {
            let rule = &catalog.alerts[0];
            let when = rule.when.as_ref().expect("when");
            assert_eq!(when.figures().count(), 1, "{what}");
        }
    }
}

#[test]
fn each_mistake_is_reported_at_the_condition_with_a_hint() {
    // (what, case, code, the text the diagnostic points at, a part of its message, its hint)
    let cases: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "a typo in a check",
            "[services.boss.check]\nhttp = \"http://127.0.0.1:8100/\"\nconditions = [\"[METRIC].ar < 1\"]\n",
            "invalid-check",
            "\"[METRIC].ar < 1\"",
            "`[METRIC].ar`, a figure the service does not declare",
            "did you mean `[METRIC].arr`?",
        ),
        (
            "a service without figures",
            "[services.plain.check]\nhttp = \"http://127.0.0.1:8100/\"\nconditions = [\"[METRIC].arr < 1\"]\n",
            "invalid-check",
            "\"[METRIC].arr < 1\"",
            "does not declare",
            "declare it under",
        ),
        (
            "a far name lists the figures",
            "[services.boss.check]\nhttp = \"http://127.0.0.1:8100/\"\nconditions = [\"[METRIC].revenue > 0\"]\n",
            "invalid-check",
            "\"[METRIC].revenue > 0\"",
            "`[METRIC].revenue`",
            "`[METRIC].arr`, `[METRIC].customers`",
        ),
        (
            "no figure name",
            "[services.boss.check]\nhttp = \"http://127.0.0.1:8100/\"\nconditions = [\"[METRIC] > 0\"]\n",
            "invalid-check",
            "\"[METRIC] > 0\"",
            "one figure name",
            "[METRIC].arr < 1000000",
        ),
        (
            "a typo of the placeholder",
            "[services.boss.check]\nhttp = \"http://127.0.0.1:8100/\"\nconditions = [\"[METRICS].arr > 0\"]\n",
            "invalid-check",
            "\"[METRICS].arr > 0\"",
            "is not a placeholder",
            "did you mean `[METRIC]`?",
        ),
        (
            "a rule on services without the figure",
            "[[alerts]]\nname = \"r\"\ngroups = [\"other\"]\nwhen = \"[METRIC].arr < 1\"\nnotify = [\"ops\"]\n",
            "invalid-alert",
            "\"[METRIC].arr < 1\"",
            "no service of the rule does",
            "declare it under",
        ),
        (
            "a typo in a rule",
            "[[alerts]]\nname = \"r\"\nservices = [\"boss\"]\nwhen = \"[METRIC].customer < 1\"\nnotify = [\"ops\"]\n",
            "invalid-alert",
            "\"[METRIC].customer < 1\"",
            "`[METRIC].customer`",
            "did you mean `[METRIC].customers`?",
        ),
        (
            "a rule reading a probe value",
            "[[alerts]]\nname = \"r\"\nwhen = \"[STATUS] == 500\"\nnotify = [\"ops\"]\n",
            "invalid-alert",
            "\"[STATUS] == 500\"",
            "reads only business figures",
            "statuses",
        ),
        (
            "a rule that does not parse",
            "[[alerts]]\nname = \"r\"\nwhen = \"[METRIC].arr lots\"\nnotify = [\"ops\"]\n",
            "invalid-alert",
            "\"[METRIC].arr lots\"",
            "no comparison operator",
            "LEFT OPERATOR RIGHT",
        ),
        (
            "a rule with statuses too",
            "[[alerts]]\nname = \"r\"\nstatuses = [\"down\"]\nwhen = \"[METRIC].arr < 1\"\nnotify = [\"ops\"]\n",
            "invalid-alert",
            "[\"down\"]",
            "both `when` and `statuses`",
            "write two rules",
        ),
    ];
    for (what, case, code, needle, message, hint) in cases {
        let text = format!("{HEAD}{case}");
        let checked = check(&text);
        let found = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == *code)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no `{code}` in {:?}",
                    checked
                        .diagnostics
                        .iter()
                        .map(|d| (d.code.as_str(), d.message.as_str()))
                        .collect::<Vec<_>>()
                )
            });
        let span = found
            .span
            .clone()
            .unwrap_or_else(|| panic!("{what}: no position"));
        assert_eq!(&text[span.clone()], *needle, "{what}: {}", found.message);
        assert!(span.start >= HEAD.len(), "{what}: points into the case");
        assert!(found.message.contains(message), "{what}: {}", found.message);
        assert!(
            found.hints.iter().any(|h| h.contains(hint)),
            "{what}: {:?}",
            found.hints
        );
        assert!(checked.catalog.is_none(), "{what}");
    }
}
