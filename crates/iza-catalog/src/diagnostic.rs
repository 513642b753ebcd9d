//! Defines [`Diagnostic`]: one problem found in a manifest, with its stable code, the place
//! it points at, and hints on what to do next; and how diagnostics are rendered as text
//! (cargo's shape: `error[code]: fact`, a snippet, `= hint: ...`) and as JSON.

use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use serde::Serialize;

use crate::source::SourceFile;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest cannot be used as it is.
    Error,
    /// The manifest works, but probably not as meant.
    Warning,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// The stable, kebab-case code of a diagnostic; `docs/manifest.md` lists them all.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($(#[$doc])* $variant,)* }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed and in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)* }
            }
        }
    };
}

codes! {
    /// A `[store] url` that is neither `postgres://...` nor `sqlite:PATH`, or a malformed
    /// `${NAME}` reference in it.
    InvalidStoreUrl = "invalid-store-url",
    /// A password written into `[store] url` instead of a `${NAME}` reference.
    StorePasswordInManifest = "store-password-in-manifest",
    /// The file could not be read.
    ReadError = "read-error",
    /// The text is not valid TOML or YAML.
    SyntaxError = "syntax-error",
    /// A key the manifest format does not know.
    UnknownKey = "unknown-key",
    /// A value of the wrong type or shape, or a required key that is missing.
    InvalidValue = "invalid-value",
    /// A `version` this build does not understand.
    UnsupportedVersion = "unsupported-version",
    /// The same id used twice (for example a service and a group both named `x`).
    DuplicateId = "duplicate-id",
    /// Two services on one port, or a port inside a range another service owns.
    PortConflict = "port-conflict",
    /// A port outside the ecosystem's `port_range` policy.
    PortOutOfRange = "port-out-of-range",
    /// A child service's port lies outside the range its parent owns.
    PortOutsideParentRange = "port-outside-parent-range",
    /// A reference to a service, group or agent that does not exist.
    UnknownReference = "unknown-reference",
    /// `depends_on` edges that form a cycle.
    DependencyCycle = "dependency-cycle",
    /// `reports_to` names an agent whose tier number is not lower.
    InvalidReportingLine = "invalid-reporting-line",
    /// An `every` duration or `cron` expression that does not parse, or both at once; an
    /// unknown `timezone`; a `catch_up_limit` without `catch_up = "all"`.
    InvalidSchedule = "invalid-schedule",
    /// A task's `run` action that is malformed.
    InvalidAction = "invalid-action",
    /// A task's `on` trigger that is malformed: not exactly one kind, an unknown status or
    /// process state, an escalation narrowed by services.
    InvalidTrigger = "invalid-trigger",
    /// A health check that is malformed.
    InvalidCheck = "invalid-check",
    /// A check with `regions` while the manifest's store is the embedded SQLite one: it is
    /// probed once, from the one node, and the quorum does not apply.
    RegionsWithoutSharedStore = "regions-without-shared-store",
    /// A service that no agent watches.
    UnwatchedService = "unwatched-service",
    /// A `restart` that is malformed: an unknown policy, a bad duration, a backoff above its cap.
    InvalidRestart = "invalid-restart",
    /// A `stop` that is malformed: an unknown signal, a bad or zero grace period.
    InvalidStop = "invalid-stop",
    /// A `depends_on` condition that is unknown or can never be met (`healthy` on a
    /// supervised service without a check).
    InvalidDependency = "invalid-dependency",
    /// A manifest that defines no service (an empty file, or the output of a failed import).
    NoServices = "no-services",
    /// A notifier that is malformed: an unknown `kind`, a key its kind does not read, a
    /// missing `url`, a URL that is not http(s).
    InvalidNotifier = "invalid-notifier",
    /// An alert rule that is malformed: an unknown status or service kind, a bad duration,
    /// a rule that tells nobody.
    InvalidAlert = "invalid-alert",
    /// A maintenance window that is malformed: no time, both `cron` and `start`, a bad cron
    /// expression, time or duration, an end before its start.
    InvalidMaintenance = "invalid-maintenance",
    /// A business figure (`metrics`) that is malformed: no source or two, a bad URL, series
    /// selector or JSON path, an unknown `format` or `aggregate`, one name aggregated two ways.
    InvalidFigure = "invalid-figure",
    /// An event output that is malformed: an unknown `kind`, a key its kind does not read, a
    /// URL of the wrong scheme, an unknown event kind, a bad `qos` or `max_pending`.
    InvalidOutput = "invalid-output",
    /// A service's `workflows` that is malformed: an unknown engine, a URL that is not http(s),
    /// a credential written literally instead of as `${NAME}`, a missing key the engine needs,
    /// a rate outside 0 to 1, a bad duration, a service that is not a `workflow-engine`.
    InvalidWorkflows = "invalid-workflows",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A secondary place a diagnostic points at, such as the other side of a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Byte span in the source.
    pub span: Range<usize>,
    /// What is there.
    pub message: String,
}

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// The fact, in one sentence without a trailing period.
    pub message: String,
    /// Byte span of the primary place, when there is one.
    pub span: Option<Range<usize>>,
    /// Other places involved.
    pub related: Vec<Related>,
    /// What to do next, each rendered after `hint:`.
    pub hints: Vec<String>,
}

impl Diagnostic {
    /// A new error.
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            related: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// A new warning.
    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Points the diagnostic at a span.
    pub fn at(mut self, span: Range<usize>) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Adds a secondary place.
    pub fn related(mut self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic as plain text, with a snippet of the source. The cost depends
    /// on the lines shown, not on the size of the file (its line starts are computed once,
    /// in [`SourceFile::new`]), so rendering every diagnostic of a file is linear.
    pub fn render(&self, source: &SourceFile) -> String {
        let severity = match self.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let mut labels = Vec::new();
        if let Some(span) = &self.span {
            labels.push(cs::Label::primary((), source.clamp(span.clone())));
        }
        for related in &self.related {
            labels.push(
                cs::Label::secondary((), source.clamp(related.span.clone()))
                    .with_message(&related.message),
            );
        }
        let diagnostic = cs::Diagnostic::new(severity)
            .with_code(self.code.as_str())
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(self.hints.iter().map(|h| format!("hint: {h}")).collect());
        let config = term::Config::default();
        term::emit_into_string(&config, source, &diagnostic).unwrap_or_else(|_| {
            // The span could not be mapped (it never should after clamping): fall back to one line.
            format!(
                "{}[{}]: {}\n",
                self.severity_word(),
                self.code,
                self.message
            )
        })
    }

    fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    /// The diagnostic as a JSON-ready record with file, line and column resolved.
    pub fn to_record(&self, source: &SourceFile) -> DiagnosticRecord {
        let start = self.span.as_ref().map(|s| source.line_column(s.start));
        let end = self.span.as_ref().map(|s| source.line_column(s.end));
        DiagnosticRecord {
            code: self.code,
            severity: self.severity,
            message: self.message.clone(),
            file: source.name(),
            line: start.map_or(1, |p| p.line),
            column: start.map_or(1, |p| p.column),
            end_line: end.map_or(1, |p| p.line),
            end_column: end.map_or(1, |p| p.column),
            hints: self.hints.clone(),
            related: self
                .related
                .iter()
                .map(|r| {
                    let at = source.line_column(r.span.start);
                    RelatedRecord {
                        message: r.message.clone(),
                        line: at.line,
                        column: at.column,
                    }
                })
                .collect(),
        }
    }
}

/// A diagnostic in the shape `iza check --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticRecord {
    /// Stable code.
    pub code: Code,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The fact.
    pub message: String,
    /// The manifest's path.
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end.
    pub end_column: usize,
    /// What to do next.
    pub hints: Vec<String>,
    /// Other places involved.
    pub related: Vec<RelatedRecord>,
}

/// A secondary place in a [`DiagnosticRecord`].
#[derive(Debug, Clone, Serialize)]
pub struct RelatedRecord {
    /// What is there.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Sorts diagnostics by position (those without one last), then by code, as `compile` returns them.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code);
        key(a).cmp(&key(b))
    });
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
