//! The copy of a *plain* table: one whose rows refer to nothing by a store-assigned id (keys
//! are names and times, or its own id kept as it is), with the same columns on both sides.
//! Business figures, workflow engines' tables and the event outbox are plain; tables whose
//! ids other tables refer to (services, runs, incidents...) have their own code in the parent
//! module. One [`PlainTable`] says the columns and the key; the copy reads the source in pages
//! by key and writes each page with one `INSERT ... SELECT * FROM UNNEST(...)`, skipping rows
//! whose key the target has.

use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row as _, Sqlite};

use super::{PAGE, read_error, write_error};
use crate::StoreError;

/// A column's type: SQLite's storage class and PostgreSQL's type.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// `INTEGER` and `BIGINT`.
    Int,
    /// `INTEGER` 0/1 and `BOOLEAN`.
    Bool,
    /// `REAL` and `DOUBLE PRECISION`.
    Real,
    /// `TEXT` on both (NUL characters, which PostgreSQL's text refuses, become U+FFFD).
    Text,
    /// `BLOB` and `BYTEA` (never part of a key).
    Bytes,
}

impl Kind {
    fn array(self) -> &'static str {
        match self {
            Kind::Int => "bigint[]",
            Kind::Bool => "boolean[]",
            Kind::Real => "double precision[]",
            Kind::Text => "text[]",
            Kind::Bytes => "bytea[]",
        }
    }
}

/// A plain table: its name, its columns (the key's first, in key order) and how many of
/// them make the key.
#[derive(Debug)]
pub(super) struct PlainTable {
    pub(super) name: &'static str,
    pub(super) columns: &'static [(&'static str, Kind)],
    pub(super) key: usize,
}

/// The values of one column over a page.
enum Values {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Values {
    fn new(kind: Kind) -> Values {
        match kind {
            Kind::Int => Values::Int(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
            Kind::Real => Values::Real(Vec::new()),
            Kind::Text => Values::Text(Vec::new()),
            Kind::Bytes => Values::Bytes(Vec::new()),
        }
    }

    fn push(&mut self, row: &SqliteRow, index: usize) -> Result<(), sqlx::Error> {
        match self {
            Values::Int(values) => values.push(row.try_get(index)?),
            Values::Bool(values) => values.push(row.try_get(index)?),
            Values::Real(values) => values.push(row.try_get(index)?),
            Values::Text(values) => values.push(
                row.try_get::<Option<String>, _>(index)?
                    .map(|text| text.replace('\0', "\u{FFFD}")),
            ),
            Values::Bytes(values) => values.push(row.try_get(index)?),
        }
        Ok(())
    }
}

/// The key of the last row of a page, to read the next one after it.
#[derive(Debug, Clone)]
enum KeyValue {
    Int(Option<i64>),
    Bool(Option<bool>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl KeyValue {
    fn read(row: &SqliteRow, index: usize, kind: Kind) -> Result<KeyValue, sqlx::Error> {
        Ok(match kind {
            Kind::Int => KeyValue::Int(row.try_get(index)?),
            Kind::Bool => KeyValue::Bool(row.try_get(index)?),
            Kind::Real => KeyValue::Real(row.try_get(index)?),
            Kind::Text | Kind::Bytes => KeyValue::Text(row.try_get(index)?),
        })
    }

    fn bind(&self, builder: &mut QueryBuilder<'_, Sqlite>) {
        match self.clone() {
            KeyValue::Int(value) => builder.push_bind(value),
            KeyValue::Bool(value) => builder.push_bind(value),
            KeyValue::Real(value) => builder.push_bind(value),
            KeyValue::Text(value) => builder.push_bind(value),
        };
    }
}

/// Copies every row of `table` from the SQLite `source` into the PostgreSQL `target`; returns
/// how many rows were read.
pub(super) async fn copy(
    table: &PlainTable,
    source: &sqlx::SqlitePool,
    target: &mut PgConnection,
) -> Result<u64, StoreError> {
    let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
    let columns = names.join(", ");
    let key = names[..table.key].join(", ");
    let mut insert = format!(
        "INSERT INTO {} ({columns}) SELECT * FROM UNNEST(",
        table.name
    );
    for (index, (_, kind)) in table.columns.iter().enumerate() {
        if index > 0 {
            insert.push_str(", ");
        }
        insert.push_str(&format!("${}::{}", index + 1, kind.array()));
    }
    insert.push_str(") ON CONFLICT DO NOTHING");

    let mut after: Option<Vec<KeyValue>> = None;
    let mut copied = 0;
    loop {
        let mut select =
            QueryBuilder::<Sqlite>::new(format!("SELECT {columns} FROM {}", table.name));
        if let Some(last) = &after {
            select.push(format!(" WHERE ({key}) > ("));
            for (index, value) in last.iter().enumerate() {
                if index > 0 {
                    select.push(", ");
                }
                value.bind(&mut select);
            }
            select.push(")");
        }
        select
            .push(format!(" ORDER BY {key} LIMIT "))
            .push_bind(PAGE);
        let rows = select
            .build()
            .fetch_all(source)
            .await
            .map_err(read_error(table.name))?;
        let Some(last) = rows.last() else { break };
        after = Some(
            table.columns[..table.key]
                .iter()
                .enumerate()
                .map(|(index, (_, kind))| KeyValue::read(last, index, *kind))
                .collect::<Result<_, _>>()
                .map_err(read_error(table.name))?,
        );
        let mut values: Vec<Values> = table
            .columns
            .iter()
            .map(|(_, kind)| Values::new(*kind))
            .collect();
        for row in &rows {
            for (index, column) in values.iter_mut().enumerate() {
                column.push(row, index).map_err(read_error(table.name))?;
            }
        }
        let mut query = sqlx::query(&insert);
        for column in values {
            query = match column {
                Values::Int(values) => query.bind(values),
                Values::Bool(values) => query.bind(values),
                Values::Real(values) => query.bind(values),
                Values::Text(values) => query.bind(values),
                Values::Bytes(values) => query.bind(values),
            };
        }
        query
            .execute(&mut *target)
            .await
            .map_err(write_error(table.name))?;
        copied += rows.len() as u64;
    }
    Ok(copied)
}

/// Business figures: raw samples and hourly rollups.
pub(super) const FIGURES: &[PlainTable] = &[
    PlainTable {
        name: "figure_samples",
        columns: &[
            ("service", Kind::Text),
            ("figure", Kind::Text),
            ("at", Kind::Int),
            ("value", Kind::Real),
        ],
        key: 3,
    },
    PlainTable {
        name: "figure_hours",
        columns: &[
            ("service", Kind::Text),
            ("figure", Kind::Text),
            ("hour", Kind::Int),
            ("count", Kind::Int),
            ("sum", Kind::Real),
            ("min", Kind::Real),
            ("max", Kind::Real),
            ("last", Kind::Real),
            ("last_at", Kind::Int),
        ],
        key: 3,
    },
];

/// Workflow engines: workflows, executions, their hourly rollups and the followers' cursors.
pub(super) const WORKFLOWS: &[PlainTable] = &[
    PlainTable {
        name: "workflows",
        columns: &[
            ("service", Kind::Text),
            ("id", Kind::Text),
            ("name", Kind::Text),
            ("active", Kind::Bool),
            ("tags", Kind::Text),
            ("last_success_at", Kind::Int),
            ("last_run_at", Kind::Int),
            ("failure", Kind::Text),
            ("failure_at", Kind::Int),
        ],
        key: 2,
    },
    PlainTable {
        name: "workflow_executions",
        columns: &[
            ("service", Kind::Text),
            ("id", Kind::Text),
            ("workflow_id", Kind::Text),
            ("status", Kind::Text),
            ("mode", Kind::Text),
            ("started_at", Kind::Int),
            ("stopped_at", Kind::Int),
            ("retry_of", Kind::Text),
        ],
        key: 2,
    },
    PlainTable {
        name: "workflow_rollups",
        columns: &[
            ("service", Kind::Text),
            ("hour", Kind::Int),
            ("workflow_id", Kind::Text),
            ("executions", Kind::Int),
            ("successes", Kind::Int),
            ("failures", Kind::Int),
            ("runs", Kind::Text),
            ("min_ms", Kind::Real),
            ("max_ms", Kind::Real),
            ("histogram", Kind::Bytes),
        ],
        key: 3,
    },
    PlainTable {
        name: "workflow_cursors",
        columns: &[("service", Kind::Text), ("cursor", Kind::Text)],
        key: 1,
    },
];

/// The event outbox: entries not yet acknowledged by their output, ids kept (each output
/// reads its entries in id order).
pub(super) const OUTBOX: PlainTable = PlainTable {
    name: "outbox",
    columns: &[
        ("id", Kind::Int),
        ("output", Kind::Text),
        ("event_id", Kind::Text),
        ("key", Kind::Text),
        ("service", Kind::Text),
        ("at", Kind::Int),
        ("retain", Kind::Bool),
        ("payload", Kind::Text),
    ],
    key: 1,
};
