//! The hub's namespace: an upstream's tool `create_issue` of the server `github` is listed as
//! `github__create_issue`. Names match `^[A-Za-z0-9_-]{1,64}$`: other characters become `_`,
//! and a name longer than 64 characters keeps its first 55 and a short hash of the whole.

/// The separator between the server's and the tool's name.
pub const SEPARATOR: &str = "__";
/// The longest tool name a client accepts.
pub(crate) const MAX_NAME: usize = 64;

pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// FNV-1a, 32 bits: a stable short hash (the same name on every run and machine).
fn fnv(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The namespaced name of `tool` of `server`.
pub fn namespaced(server: &str, tool: &str) -> String {
    let full = format!("{}{SEPARATOR}{}", clean(server), clean(tool));
    if full.len() <= MAX_NAME {
        return full;
    }
    let cut: String = full.chars().take(MAX_NAME - 9).collect();
    format!("{cut}_{:08x}", fnv(&full))
}

/// Whether `name` matches the glob `pattern` (`*` any run of characters, `?` one).
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether a tool passes an upstream's allow list (empty: every tool) and deny list.
pub(crate) fn visible(allow: &[String], deny: &[String], tool: &str) -> bool {
    (allow.is_empty() || allow.iter().any(|p| glob(p, tool))) && !deny.iter().any(|p| glob(p, tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_stable() {
        assert_eq!(namespaced("github", "create_issue"), "github__create_issue");
        assert_eq!(namespaced("my.server", "a/b"), "my_server__a_b");
        let long = namespaced("server", &"x".repeat(100));
        assert_eq!(long.len(), MAX_NAME);
        assert_eq!(long, namespaced("server", &"x".repeat(100)));
        assert_ne!(long, namespaced("server", &"x".repeat(101)));
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn globs_filter_tools() {
        assert!(glob("get_*", "get_sum"));
        assert!(!glob("get_*", "set_sum"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(visible(&[], &["delete*".into()], "echo"));
        assert!(!visible(&[], &["delete*".into()], "delete_all"));
        assert!(!visible(&["echo".into()], &[], "add"));
    }
}
