//! Defines the placeholders of task actions (`{service}`, `{status}`, `{workflow}`, ...): their names and
//! how text holding them is filled in. The catalog only checks text with them in place; the
//! runtime calls [`substitute`] when a run starts. Text in braces that is not a known
//! placeholder (`${HOME}`, a JSON body, an awk script) is left as written.

/// The placeholders, written `{service}`: the service of the event, its new status, the
/// reason, the task's agent, the task's key, the incident's id; and of a failed workflow
/// execution (`on = { workflow = "failed" }`): the workflow's id, the execution's id, its
/// error message and its failing node (or step).
pub const NAMES: &[&str] = &[
    "service",
    "status",
    "reason",
    "agent",
    "task",
    "incident",
    "workflow",
    "execution",
    "error",
    "node",
];

/// `text` with each known placeholder replaced by `value(name)`, or by nothing when it gives
/// none. Unknown names and unmatched braces are kept as they are.
pub fn substitute<'v>(text: &str, value: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let known = after
            .find('}')
            .map(|close| &after[..close])
            .filter(|name| NAMES.contains(name));
        match known {
            Some(name) => {
                out.push_str(value(name).unwrap_or_default());
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn known_placeholders_are_filled_and_the_rest_kept() {
        let value = |name: &str| match name {
            "service" => Some("n8n"),
            "status" => Some("down"),
            _ => None,
        };
        let cases = [
            ("{service} is {status}", "n8n is down"),
            ("why: {reason}.", "why: ."),
            ("${HOME}/{service}", "${HOME}/n8n"),
            (r#"{"service":"{service}"}"#, r#"{"service":"n8n"}"#),
            ("{{service}}", "{n8n}"),
            ("{unknown} {service", "{unknown} {service"),
            ("awk '{print $1}'", "awk '{print $1}'"),
            ("", ""),
            ("ünïcode {status} ✓", "ünïcode down ✓"),
        ];
        for (text, expected) in cases {
            assert_eq!(substitute(text, value), expected, "{text}");
        }
    }
}
