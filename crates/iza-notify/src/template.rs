//! Message text from minijinja templates. A template sees the [`Message`] (`ecosystem`,
//! `notifier`, `status`, `at`, `alerts`, each alert with `id`, `rule`, `service`,
//! `service_name`, `severity`, `status`, `transition`, `impacted`, `reason`, `started_at`,
//! `resolved_at`, `agent`, `ack_url`). Each kind has a default; a notifier's `template`
//! replaces it.

use minijinja::Environment;

use crate::Message;

/// The default text: one line per alert.
pub const DEFAULT_TEMPLATE: &str = "{% for a in alerts -%}
{% if a.transition == 'resolved' %}[RESOLVED]{% elif a.transition == 'escalated' %}[ESCALATED to {{ a.agent }}]{% elif a.transition == 'reminder' %}[STILL {{ a.severity|upper }}]{% else %}[{{ a.severity|upper }}]{% endif %} \
{{ a.service_name }}{% if a.transition == 'resolved' %} recovered{% else %} is {{ a.status }}{% endif %}\
{% if a.impacted %}{% if a.transition == 'resolved' %}; no longer impacted{% else %}; impacted{% endif %}: {{ a.impacted|join(', ') }}{% endif %}\
{% if a.reason and a.transition != 'resolved' %} ({{ a.reason }}){% endif %} \
— rule `{{ a.rule }}`, alert #{{ a.id }}{% if a.ack_url and a.transition != 'resolved' %}, acknowledge: {{ a.ack_url }}{% endif %}
{% endfor %}";

/// Renders `template` with `message`.
pub fn render(template: &str, message: &Message) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_trim_blocks(false);
    env.add_template("message", template)
        .map_err(|e| format!("the template does not parse: {e}"))?;
    let text = env
        .get_template("message")
        .and_then(|t| t.render(minijinja::Value::from_serialize(message)))
        .map_err(|e| format!("the template failed: {e}"))?;
    Ok(text.trim_end().to_owned())
}
