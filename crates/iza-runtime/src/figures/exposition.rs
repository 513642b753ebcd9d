//! Reads the Prometheus text exposition format (version 0.0.4, and the OpenMetrics text that
//! shares its sample lines): `# HELP`/`# TYPE` comments, `name{label="value",...} value
//! [timestamp]` samples, escapes in label values (`\\`, `\"`, `\n`), `NaN`, `+Inf`, `-Inf`.
//! Strict like Prometheus itself: a malformed line fails the scrape, naming the line.

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of a label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an exposition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the exposition: {message}")]
pub struct ExpositionError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Every sample of an exposition, in order.
pub fn parse(text: &str) -> Result<Vec<Sample>, ExpositionError> {
    let mut samples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        samples.push(sample(line).map_err(|message| ExpositionError {
            line: index + 1,
            message,
        })?);
    }
    Ok(samples)
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(line.len(), |(i, _)| i);
    if name_end == 0 {
        return Err(format!(
            "`{}` does not start with a metric name",
            short(line)
        ));
    }
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let label_end = rest
                .char_indices()
                .find(|&(i, c)| {
                    !(c.is_ascii_alphanumeric() || c == '_') || (i == 0 && c.is_ascii_digit())
                })
                .map_or(rest.len(), |(i, _)| i);
            if label_end == 0 {
                return Err(format!("a label name was expected in `{}`", short(line)));
            }
            let label = &rest[..label_end];
            rest = rest[label_end..].trim_start();
            rest = rest
                .strip_prefix('=')
                .ok_or_else(|| format!("`=` was expected after label `{label}`"))?
                .trim_start();
            rest = rest
                .strip_prefix('"')
                .ok_or_else(|| format!("the value of label `{label}` is not quoted"))?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(format!("the value of label `{label}` is not closed")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, c)) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err(format!("the value of label `{label}` is not closed")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            labels.push((label.to_owned(), value));
            rest = rest[end + 1..].trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!("`,` or `}}` was expected in `{}`", short(line)));
            }
        }
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("sample `{name}` has no value"))?;
    let value = parse_value(value).ok_or_else(|| format!("`{value}` is not a number"))?;
    if let Some(timestamp) = fields.next()
        && timestamp.parse::<f64>().is_err()
    {
        return Err(format!("`{timestamp}` is not a timestamp"));
    }
    if let Some(extra) = fields.next()
        && !extra.starts_with('#')
    {
        return Err(format!("unexpected `{extra}` after the value"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

fn short(line: &str) -> &str {
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_format() {
        let text = "# HELP business_arr_dollars Annual recurring revenue.\n\
                    # TYPE business_arr_dollars gauge\n\
                    business_arr_dollars{service=\"aiboss\",plan=\"pro\"} 2.5e+08\n\
                    business_arr_dollars{service=\"a\\\"b\\\\c\\nd\", plan=\"free\",} 0 1700000000000\n\
                    \n\
                    up 1\n\
                    odd:name_total{} -Inf\n\
                    nan_gauge NaN\n";
        let samples = parse(text).unwrap();
        assert_eq!(samples.len(), 5);
        assert_eq!(samples[0].name, "business_arr_dollars");
        assert_eq!(samples[0].label("plan"), Some("pro"));
        assert_eq!(samples[0].value, 2.5e8);
        assert_eq!(samples[1].label("service"), Some("a\"b\\c\nd"));
        assert_eq!(samples[1].labels.len(), 2);
        assert_eq!(samples[2].labels, vec![]);
        assert_eq!(samples[3].name, "odd:name_total");
        assert_eq!(samples[3].value, f64::NEG_INFINITY);
        assert!(samples[4].value.is_nan());
    }

    #[test]
    fn refuses_malformed_lines_naming_them() {
        for (text, line) in [
            ("ok 1\n{a=\"b\"} 1\n", 2),
            ("x{a=b} 1", 1),
            ("x{a=\"b} 1", 1),
            ("x{a=\"b\" c=\"d\"} 1", 1),
            ("x", 1),
            ("x one", 1),
            ("x 1 soon", 1),
            ("# c\n\nx{1a=\"b\"} 1", 3),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text}: {error}");
        }
    }
}
