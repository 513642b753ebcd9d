//! Reads a process's start time from `/proc/PID/stat`: the one fact that tells a process from
//! a later one that got the same pid.

/// The start time of process `pid`, in clock ticks since boot (field 22 of `/proc/PID/stat`);
/// `None` when no such process lives (a zombie counts as gone) or `/proc` cannot be read.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse(&stat).and_then(|(state, start)| (state != "Z" && state != "X").then_some(start))
}

/// (state, start time) from the text of `/proc/PID/stat`. The command name, in parentheses,
/// may itself hold spaces and parentheses: the fields are counted after the last `)`.
fn parse(stat: &str) -> Option<(&str, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, starttime field 22.
    let state = *fields.first()?;
    let start = fields.get(22 - 3)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parentheses_is_skipped_whole() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(parse(stat), Some(("S", 987_654)));
        assert_eq!(parse("garbage"), None);
    }

    #[test]
    fn this_process_has_a_start_time_and_a_reaped_child_has_none() {
        assert!(start_time(std::process::id()).is_some());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(start_time(pid), None);
    }
}
