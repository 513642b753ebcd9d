//! Alert rules on business figures (`when = "[METRIC].arr < 1000000"`, docs/alerts.md): at
//! each evaluation step the engine asks, for every service a rule selects, whether the
//! condition holds on the service's latest figures (the scraper's [`FigureBoard`]). A service
//! that does not declare every figure the condition reads, or has no value yet, does not fire.

use iza_catalog::condition::Condition;
use iza_catalog::model::Service;
use iza_probe::{Evaluator, Facts, FigureBoard};

/// The status word of an alert fired by a figure condition.
pub const STATUS: &str = "off-target";

/// When `when` holds on the service's latest figures: the reason that names each figure and
/// its value (`ARR is $800K; [METRIC].arr < 1000000`).
pub fn holds(when: &Condition, service: &Service, board: &FigureBoard) -> Option<String> {
    let mut seen = Vec::new();
    let mut facts = Facts::default();
    for name in when.figures() {
        let figure = service.figures.iter().find(|f| f.name == name)?;
        let value = board.get(&service.id, name)?;
        seen.push(format!(
            "{} is {}",
            figure.label,
            figure.format.display(value, figure.unit.as_deref())
        ));
        facts.figures.insert(name.to_owned(), value.to_string());
    }
    if seen.is_empty() {
        return None;
    }
    Evaluator::new(&facts, std::time::Duration::ZERO)
        .check(when)
        .ok()
        .map(|()| format!("{}; {}", seen.join(", "), when.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        let toml = r#"version = 1
[services.boss]
port = 4000
[services.boss.metrics.arr]
label = "ARR"
prometheus = "http://127.0.0.1:1/metrics"
unit = "USD"
format = "currency"
[services.boss.metrics.customers]
json = { url = "http://127.0.0.1:1/f.json", path = "$.customers" }
"#;
        let checked = iza_catalog::check(&iza_catalog::SourceFile::new(
            "t.toml",
            toml.to_owned(),
            iza_catalog::Syntax::Toml,
        ));
        let catalog = checked
            .catalog
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
        catalog.services["boss"].clone()
    }

    #[test]
    fn a_figure_rule_holds_on_the_latest_value_and_names_it() {
        let service = service();
        let board = FigureBoard::default();
        let when: Condition = "[METRIC].arr < 1000000".parse().unwrap();
        assert_eq!(holds(&when, &service, &board), None, "no value yet");
        board.set("boss", "arr", 800_000.0);
        let reason = holds(&when, &service, &board).expect("holds below the threshold");
        assert!(reason.starts_with("ARR is $800"), "{reason}");
        assert!(reason.ends_with("[METRIC].arr < 1000000"), "{reason}");
        board.set("boss", "arr", 1_000_000.0);
        assert_eq!(holds(&when, &service, &board), None, "at the threshold");
        let other: Condition = "[METRIC].mrr < 1".parse().unwrap();
        assert_eq!(holds(&other, &service, &board), None, "not declared");
        let both: Condition = "[METRIC].customers >= 10".parse().unwrap();
        board.set("boss", "customers", 12.0);
        assert_eq!(
            holds(&both, &service, &board).as_deref(),
            Some("customers is 12; [METRIC].customers >= 10")
        );
    }
}
