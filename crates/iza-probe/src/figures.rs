//! [`FigureBoard`]: the latest value of each service's business figures (docs/metrics.md), kept
//! in memory by the figures scraper and read by the probes, so that a check's condition
//! `[METRIC].arr < 1000000` is evaluated against the last scraped value without any I/O to the
//! store at probe time. The alert engine reads the same board for rules with `when`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

/// The latest figure values by service, shared (cloning shares the same board).
#[derive(Clone, Default)]
pub struct FigureBoard(Arc<RwLock<HashMap<String, BTreeMap<String, f64>>>>);

impl FigureBoard {
    /// Records the latest value of one figure of one service.
    pub fn set(&self, service: &str, figure: &str, value: f64) {
        let mut board = self.0.write().unwrap_or_else(PoisonError::into_inner);
        board
            .entry(service.to_owned())
            .or_default()
            .insert(figure.to_owned(), value);
    }

    /// The latest value of one figure of one service, if one was read.
    pub fn get(&self, service: &str, figure: &str) -> Option<f64> {
        let board = self.0.read().unwrap_or_else(PoisonError::into_inner);
        board.get(service)?.get(figure).copied()
    }

    /// Every latest figure value of one service, by figure name.
    pub fn service(&self, service: &str) -> BTreeMap<String, f64> {
        let board = self.0.read().unwrap_or_else(PoisonError::into_inner);
        board.get(service).cloned().unwrap_or_default()
    }

    /// Keeps only the (service, figure) pairs `keep` accepts (after a reload dropped some).
    pub fn retain(&self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut board = self.0.write().unwrap_or_else(PoisonError::into_inner);
        board.retain(|service, figures| {
            figures.retain(|figure, _| keep(service, figure));
            !figures.is_empty()
        });
    }
}

impl std::fmt::Debug for FigureBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let board = self.0.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("FigureBoard")
            .field("services", &board.len())
            .finish()
    }
}

/// Two boards are equal when they are the same shared board.
impl PartialEq for FigureBoard {
    fn eq(&self, other: &FigureBoard) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FigureBoard {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_keeps_the_latest_value_per_service_and_figure() {
        let board = FigureBoard::default();
        let shared = board.clone();
        assert_eq!(board.get("a", "arr"), None);
        board.set("a", "arr", 1.0);
        board.set("a", "arr", 2.0);
        board.set("a", "customers", 3.0);
        board.set("b", "arr", 4.0);
        assert_eq!(shared.get("a", "arr"), Some(2.0));
        assert_eq!(shared.service("a").len(), 2);
        shared.retain(|service, figure| service == "a" && figure == "arr");
        assert_eq!(
            board.service("a").into_iter().collect::<Vec<_>>(),
            vec![("arr".to_owned(), 2.0)]
        );
        assert!(board.service("b").is_empty());
        assert_eq!(board, shared);
        assert_ne!(board, FigureBoard::default());
    }
}
