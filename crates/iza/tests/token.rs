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
    assert_hashed(&file, &reader);
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
    assert_hashed(&file, &operator);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (_, reader, _) = token(dir.path(), &["--scope", "read"]);
    let (code, reader_again, stderr) = token(dir.path(), &["--read-only"]);
    assert_eq!(
        code,
        Some(2),
        "`--read-only` is `--scope read`, shown once: {stderr}"
    );
    assert!(reader_again.is_empty());
    assert!(stderr.contains("only the token's hash"), "{stderr}");
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
        stderr.contains("created the push token of `backup` file"),
        "{stderr}"
    );
    let file = dir.path().join(".iza").join("push-tokens").join("backup");
    assert_hashed(&file, &push);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_ne!(push, admin);
    let (code, again, stderr) = token(dir.path(), &["--scope", "push:backup"]);
    assert_eq!(code, Some(2), "shown once: {stderr}");
    assert!(again.is_empty());
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

/// The file holds the SHA-256 of `token` (as `sha256:<hex>`), never the token.
fn assert_hashed(file: &Path, token: &str) {
    use sha2::Digest as _;
    let text = std::fs::read_to_string(file).unwrap();
    assert!(!text.contains(token.trim()), "{text}");
    let digest: String = sha2::Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(text, format!("sha256:{digest}\n"));
}

#[test]
fn a_client_token_file_in_clear_is_shown_once_more_then_hashed() {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("iza.toml"), "version = 1\n[services.a]\n").unwrap();
    std::fs::create_dir_all(dir.path().join(".iza")).unwrap();
    let file = dir.path().join(".iza").join("operate-token");
    let legacy = "0123456789abcdef0123456789abcdef";
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .unwrap();
    writeln!(f, "{legacy}").unwrap();
    let (code, shown, stderr) = token(dir.path(), &["--scope", "operate"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(shown.trim(), legacy);
    assert!(stderr.contains("now stored hashed"), "{stderr}");
    assert_hashed(&file, legacy);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, _, _) = token(dir.path(), &["--scope", "operate"]);
    assert_eq!(code, Some(2));
}
