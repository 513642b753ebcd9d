//! `iza token`: the token on stdout (alone), the file on stderr, created once with mode 0600
//! beside the manifest, replaced by `--rotate`; no token file for a manifest that is not there.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Runs `iza token ARGS` in `dir`; returns the exit code, stdout and stderr.
fn token(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_iza"))
        .arg("token")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_token_is_created_once_printed_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), "version = 1\n[services.a]\n").unwrap();
    let file = dir.path().join(".iza").join("token");

    let (code, first, stderr) = token(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("created the token file"), "{stderr}");
    let first = first.strip_suffix('\n').unwrap().to_owned();
    assert_eq!(first.len(), 64);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (code, again, stderr) = token(dir.path(), &["iza.toml"]);
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("created"), "{stderr}");
    assert_eq!(again.trim(), first);

    let (code, rotated, stderr) = token(dir.path(), &["--rotate"]);
    assert_eq!(code, Some(0));
    assert!(stderr.contains("rotated"), "{stderr}");
    assert_ne!(rotated.trim(), first);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), rotated);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, stderr) = token(dir.path(), &[]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty(), "no token is printed from an exposed file");
    assert!(stderr.contains("accessible by other users"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn no_token_file_is_made_for_a_missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, stderr) = token(dir.path(), &["nothing.toml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(out.is_empty());
    assert!(stderr.contains("nothing.toml"), "{stderr}");
    assert!(!dir.path().join(".iza").exists());

    let (code, out, _) = token(dir.path(), &["--file", "own/token"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim().len(), 64);
    assert!(dir.path().join("own").join("token").is_file());
}

#[test]
fn the_read_only_token_is_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), "version = 1\n[services.a]\n").unwrap();
    let (code, admin, stderr) = token(dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, reader, stderr) = token(dir.path(), &["--read-only"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("created the read-only token file"),
        "{stderr}"
    );
    assert_ne!(reader, admin);
    let file = dir.path().join(".iza").join("read-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), reader);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, rotated, _) = token(dir.path(), &["--read-only", "--rotate"]);
    assert_eq!(code, Some(0));
    assert_ne!(rotated, reader);
    let (_, again, _) = token(dir.path(), &[]);
    assert_eq!(again, admin, "the admin token is untouched");
}

#[test]
fn each_scope_has_its_own_token_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), "version = 1\n[services.a]\n").unwrap();
    let (_, admin, _) = token(dir.path(), &[]);
    let (code, operator, stderr) = token(dir.path(), &["--scope", "operate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("created the operate token file"),
        "{stderr}"
    );
    let file = dir.path().join(".iza").join("operate-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), operator);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (_, reader, _) = token(dir.path(), &["--scope", "read"]);
    let (_, reader_again, _) = token(dir.path(), &["--read-only"]);
    assert_eq!(reader, reader_again, "`--read-only` is `--scope read`");
    let (_, admin_again, _) = token(dir.path(), &["--scope", "admin"]);
    assert_eq!(admin_again, admin);
    assert!(operator != admin && operator != reader && reader != admin);
    let (code, _, stderr) = token(dir.path(), &["--read-only", "--scope", "operate"]);
    assert_eq!(code, Some(2), "conflicting flags: {stderr}");
}

#[test]
fn a_push_token_is_one_services_own_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("iza.toml"),
        "version = 1\n[services.backup]\ncheck = { push = true, expect_every = \"1h\" }\n",
    )
    .unwrap();
    let (_, admin, _) = token(dir.path(), &[]);
    let (code, push, stderr) = token(dir.path(), &["--scope", "push:backup"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("created the push token file of `backup`"),
        "{stderr}"
    );
    let file = dir.path().join(".iza").join("push-tokens").join("backup");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), push);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_ne!(push, admin);
    let (_, again, _) = token(dir.path(), &["--scope", "push:backup"]);
    assert_eq!(again, push);
    let (code, rotated, _) = token(dir.path(), &["--scope", "push:backup", "--rotate"]);
    assert_eq!(code, Some(0));
    assert_ne!(rotated, push);

    let (code, _, stderr) = token(dir.path(), &["--scope", "push:nope"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("has no service `nope`"), "{stderr}");
    assert!(!dir.path().join(".iza/push-tokens/nope").exists());
    let (code, _, stderr) = token(dir.path(), &["--scope", "sideways"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("push:<service>"), "{stderr}");
}
