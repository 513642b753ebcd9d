//! Conformance cases of business figures: samples round-trip, the same sample counts once,
//! hourly rollups (count, min, max, avg, last), the newest value per figure, and retention
//! that keeps hours after raw samples are gone.

use iza_store::{FigurePoint, FigureQuery, FigureResolution, FigureSample, Retention};

use super::{BASE, DAY, HOUR, MINUTE, StoreUnderTest};

fn sample(service: &str, figure: &str, at: i64, value: f64) -> FigureSample {
    FigureSample {
        service: service.to_owned(),
        figure: figure.to_owned(),
        at,
        value,
    }
}

fn query(service: &str, figure: &str, since: i64, resolution: FigureResolution) -> FigureQuery {
    FigureQuery {
        service: service.to_owned(),
        figure: figure.to_owned(),
        since,
        resolution,
        limit: 1_000,
    }
}

pub(crate) async fn figures_round_trip_roll_up_and_stay_latest(store: StoreUnderTest) {
    let samples = [
        sample("aiboss", "arr", BASE + 10 * MINUTE, 100.0),
        sample("aiboss", "arr", BASE + 20 * MINUTE, 300.0),
        sample("aiboss", "arr", BASE + 30 * MINUTE, 200.0),
        sample("aiboss", "arr", BASE + HOUR + MINUTE, 500.0),
        sample("aiboss", "customers", BASE + 10 * MINUTE, 7.0),
        sample("ace", "arr", BASE + 5 * MINUTE, 1.5e9),
        sample("ace", "arr", BASE + 6 * MINUTE, f64::NAN),
    ];
    store.append_figures(&samples).await.unwrap();
    // Written again, out of order, the same samples count once.
    store.append_figures(&samples[..3]).await.unwrap();
    store.append_figures(&[]).await.unwrap();

    let raw = store
        .figure_series(&query("aiboss", "arr", BASE, FigureResolution::Raw))
        .await
        .unwrap();
    let values: Vec<(i64, f64)> = raw.iter().map(|p| (p.at, p.last)).collect();
    assert_eq!(
        values,
        vec![
            (BASE + 10 * MINUTE, 100.0),
            (BASE + 20 * MINUTE, 300.0),
            (BASE + 30 * MINUTE, 200.0),
            (BASE + HOUR + MINUTE, 500.0)
        ]
    );
    let since = store
        .figure_series(&query(
            "aiboss",
            "arr",
            BASE + 15 * MINUTE,
            FigureResolution::Raw,
        ))
        .await
        .unwrap();
    assert_eq!(since.len(), 3);
    let newest_two = store
        .figure_series(&FigureQuery {
            limit: 2,
            ..query("aiboss", "arr", BASE, FigureResolution::Raw)
        })
        .await
        .unwrap();
    assert_eq!(
        newest_two.iter().map(|p| p.at).collect::<Vec<_>>(),
        vec![BASE + 30 * MINUTE, BASE + HOUR + MINUTE]
    );

    let hours = store
        .figure_series(&query("aiboss", "arr", BASE, FigureResolution::Hour))
        .await
        .unwrap();
    assert_eq!(
        hours,
        vec![
            FigurePoint {
                at: BASE,
                count: 3,
                min: 100.0,
                max: 300.0,
                avg: 200.0,
                last: 200.0
            },
            FigurePoint {
                at: BASE + HOUR,
                count: 1,
                min: 500.0,
                max: 500.0,
                avg: 500.0,
                last: 500.0
            },
        ]
    );

    let latest = store.latest_figures().await.unwrap();
    let latest: Vec<(&str, &str, f64)> = latest
        .iter()
        .map(|s| (s.service.as_str(), s.figure.as_str(), s.value))
        .collect();
    assert_eq!(
        latest,
        vec![
            ("ace", "arr", 1.5e9),
            ("aiboss", "arr", 500.0),
            ("aiboss", "customers", 7.0)
        ]
    );

    // Retention: raw samples go with raw results, hours stay.
    let now = BASE + 3 * DAY;
    store.maintain(now, Retention::default()).await.unwrap();
    let raw = store
        .figure_series(&query("aiboss", "arr", 0, FigureResolution::Raw))
        .await
        .unwrap();
    assert!(raw.is_empty(), "{raw:?}");
    let hours = store
        .figure_series(&query("aiboss", "arr", 0, FigureResolution::Hour))
        .await
        .unwrap();
    assert_eq!(hours.len(), 2);
}
