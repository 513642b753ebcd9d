//! Bearer-token access control: the token ([`Token`]), the file that holds it ([`TokenFile`]:
//! created once with mode 0600, refused when others may read it, rotatable), and the policy the
//! router applies to every request ([`Auth`] and the [`require_token`] middleware).
//!
//! The rule: a call that may change anything (any method but `GET`, `HEAD`, `OPTIONS` and
//! `TRACE`) needs `Authorization: Bearer <token>`; reads are open unless
//! [`Auth::protect_reads`] is set, and `GET /healthz` stays open even then. A refused call gets
//! 401 with `WWW-Authenticate: Bearer` and the reason in the JSON error. With no token
//! configured ([`Auth::locked`], the default of [`crate::AppState`]) every mutating call is
//! refused: a new route is never open by accident.
//!
//! Three scopes ([`Scope`]): the token of `.iza/token` is the admin token (everything); an
//! optional read-only token (`.iza/read-token`, [`Auth::read_tokens_from`]) reads, signs a
//! browser in, and nothing else; an optional operate token (`.iza/operate-token`,
//! [`Auth::operate_tokens_from`]) reads and acts but does not see raw definitions. `/mcp` is
//! let through as a read: the MCP handler hides and refuses tools by scope. A browser signs in once (`POST /api/v1/session`) and gets a
//! separate random session secret in a cookie, kept in memory for [`SESSION_LIFETIME`] and
//! ended by a rotation of the token it was signed in with, or a restart. The middleware puts the
//! caller's [`Access`] in the request's extensions for the handlers (raw definitions need
//! [`Scope::Admin`]).
//!
//! Token files hold the token in clear (the admin token: the CLI reads it to call the server)
//! or only its SHA-256 digest (`sha256:<hex>`: the read, operate and push tokens handed to
//! clients, shown once when made; [`TokenFile::create_hashed`], [`TokenFile::hash_in_place`]
//! for files of older versions). The server keeps digests only and compares the digest of a
//! presented token with them, in constant time.
//!
//! This module does not decide where the token file lives (the CLI puts it beside the state
//! database) nor when the token is shown to the user (the CLI prints it once, when created).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The file name of the token, in the directory of the state database (`.iza/token`).
pub const TOKEN_FILE_NAME: &str = "token";
/// The file name of the read-only token, beside the token (`.iza/read-token`).
pub const READ_TOKEN_FILE_NAME: &str = "read-token";
/// The file name of the operate token, beside the token (`.iza/operate-token`).
pub const OPERATE_TOKEN_FILE_NAME: &str = "operate-token";
/// The directory of the push tokens, one file per service, beside the token
/// (`.iza/push-tokens/<service>`).
pub const PUSH_TOKEN_DIR_NAME: &str = "push-tokens";
/// How long a browser session lasts from its sign-in (fixed, not sliding).
pub const SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(12 * 3600);
/// Sessions kept at most; signing in past it ends the oldest.
const MAX_SESSIONS: usize = 256;
/// Random bytes in a generated token (shown as 64 hex digits).
const TOKEN_BYTES: usize = 32;
/// Tokens shorter than this are refused when read from a file: they could be guessed.
const MIN_TOKEN_LEN: usize = 16;

/// Why the token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file (or its directory) could not be read.
    #[error("cannot read the token file `{path}`: {source}")]
    Read {
        /// The token file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The file (or its directory) could not be written.
    #[error("cannot write the token file `{path}`: {source}")]
    Write {
        /// The token file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Users other than the owner may access the file.
    #[error(
        "the token file `{path}` is accessible by other users (mode {mode:03o}); refusing to use it"
    )]
    Insecure {
        /// The token file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds no usable token.
    #[error(
        "the token file `{path}` holds no usable token (one line of at least {MIN_TOKEN_LEN} visible characters)"
    )]
    Malformed {
        /// The token file.
        path: PathBuf,
    },
    /// The operating system gave no random bytes.
    #[error("cannot draw random bytes for a token: {0}")]
    Random(String),
    /// The file holds the token's hash only: the token was shown once, when it was created.
    #[error(
        "the token file `{path}` holds only the token's hash: the token was shown once, when it was created, and cannot be shown again"
    )]
    Hashed {
        /// The token file.
        path: PathBuf,
    },
}

impl AuthError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            AuthError::Insecure { path, .. } => Some(format!(
                "the token may have leaked: run `iza token --rotate` to replace it, or `chmod 600 {}` if nobody else could read it",
                path.display()
            )),
            AuthError::Malformed { .. } => {
                Some("run `iza token --rotate` to write a new token".to_owned())
            }
            AuthError::Hashed { .. } => Some(
                "`--rotate` (with the same `--scope`) makes a new token and shows it; the old one is refused from then on"
                    .to_owned(),
            ),
            AuthError::Read { .. } | AuthError::Write { .. } | AuthError::Random(_) => None,
        }
    }
}

/// A bearer token. Its `Debug` form does not show it; compare with [`Token::matches`], which
/// takes the same time whatever the bytes compared.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// A new token: 32 bytes from the operating system's random source, as 64 hex digits.
    pub fn generate() -> Result<Token, AuthError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|err| AuthError::Random(err.to_string()))?;
        let mut text = String::with_capacity(TOKEN_BYTES * 2);
        for byte in bytes {
            text.push(hex_digit(byte >> 4));
            text.push(hex_digit(byte & 0x0f));
        }
        Ok(Token(text.into()))
    }

    /// A token given as text (e.g. from configuration); `None` when it is too short or holds
    /// anything but visible ASCII.
    pub fn new(text: &str) -> Option<Token> {
        let valid = text.len() >= MIN_TOKEN_LEN && text.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Token(text.into()))
    }

    /// The token's text, to show to its owner or send in `Authorization: Bearer`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token's SHA-256 digest: what a hashed token file and the server keep.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.0.as_bytes())
    }

    /// Whether `presented` is this token, in time that depends on the lengths only.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        if expected.len() != presented.len() {
            return false;
        }
        let diff = expected
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// The SHA-256 digest of a token. A token file may hold it instead of the token
/// (`sha256:<64 hex digits>`), and the server compares presented tokens with digests only:
/// the token itself is 32 random bytes, so a fast hash is enough (a slow password hash such as
/// argon2 protects low-entropy secrets against guessing, which these are not, and would cost
/// milliseconds on every request).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> TokenDigest {
        use sha2::Digest as _;
        TokenDigest(sha2::Sha256::digest(bytes).into())
    }

    /// Whether `presented` is a token of this digest; the digests are compared in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let other = TokenDigest::of(presented);
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }

    /// As a hashed token file writes it: `sha256:` and 64 hex digits.
    pub fn to_line(&self) -> String {
        let mut text = String::with_capacity(7 + 64);
        text.push_str(HASH_PREFIX);
        for byte in self.0 {
            text.push(hex_digit(byte >> 4));
            text.push(hex_digit(byte & 0x0f));
        }
        text
    }

    /// The digest of a hashed token file's line.
    fn parse(line: &str) -> Option<TokenDigest> {
        let hex = line.strip_prefix(HASH_PREFIX)?.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            bytes[i] = u8::try_from(high * 16 + low).ok()?;
        }
        Some(TokenDigest(bytes))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

/// What starts the line of a hashed token file.
const HASH_PREFIX: &str = "sha256:";

/// What a token file holds: the token (the admin token, which the CLI reads to call the
/// server, and files of older versions), or its digest only (the tokens handed to clients).
#[derive(Debug, Clone)]
enum Stored {
    Plain(Token),
    Hashed(TokenDigest),
}

impl Stored {
    fn digest(&self) -> TokenDigest {
        match self {
            Stored::Plain(token) => token.digest(),
            Stored::Hashed(digest) => *digest,
        }
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// The file holding the token: one line, mode 0600, in a directory created with mode 0700.
#[derive(Debug, Clone)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// The token file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> TokenFile {
        TokenFile { path: path.into() }
    }

    /// The token file in the directory of the state database `db` (`.iza/token`).
    pub fn beside(db: &Path) -> TokenFile {
        let dir = db.parent().unwrap_or_else(|| Path::new("."));
        TokenFile::new(dir.join(TOKEN_FILE_NAME))
    }

    /// The read-only token file in the directory of the state database `db`
    /// (`.iza/read-token`).
    pub fn read_only_beside(db: &Path) -> TokenFile {
        let dir = db.parent().unwrap_or_else(|| Path::new("."));
        TokenFile::new(dir.join(READ_TOKEN_FILE_NAME))
    }

    /// The operate token file in the directory of the state database `db`
    /// (`.iza/operate-token`).
    pub fn operate_beside(db: &Path) -> TokenFile {
        let dir = db.parent().unwrap_or_else(|| Path::new("."));
        TokenFile::new(dir.join(OPERATE_TOKEN_FILE_NAME))
    }

    /// The push token file of a service in the directory of the state database `db`
    /// (`.iza/push-tokens/<service>`); `None` when the id cannot be a file name.
    pub fn push_beside(db: &Path, service: &str) -> Option<TokenFile> {
        let dir = db.parent().unwrap_or_else(|| Path::new("."));
        push_token_name_ok(service)
            .then(|| TokenFile::new(dir.join(PUSH_TOKEN_DIR_NAME).join(service)))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the token; fails when the file is missing, accessible by others, malformed, or
    /// holds only the token's hash ([`AuthError::Hashed`]).
    pub fn load(&self) -> Result<Token, AuthError> {
        match self.read()? {
            (_, Stored::Plain(token)) => Ok(token),
            (_, Stored::Hashed(_)) => Err(AuthError::Hashed {
                path: self.path.clone(),
            }),
        }
    }

    /// Whether the file holds only the token's hash.
    pub fn is_hashed(&self) -> Result<bool, AuthError> {
        self.read()
            .map(|(_, stored)| matches!(stored, Stored::Hashed(_)))
    }

    /// Creates the file with a new token, stored hashed, and returns the token: the one time
    /// it is shown. `None` when the file exists already (whoever made it showed its token).
    pub fn create_hashed(&self) -> Result<Option<Token>, AuthError> {
        let token = Token::generate()?;
        let temp = self.write_temp(&token.digest().to_line())?;
        let linked = fs::hard_link(&temp, &self.path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                self.sync_dir();
                Ok(Some(token))
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(source) => Err(self.write_error(source)),
        }
    }

    /// Replaces the token with a new one stored hashed (atomically), and returns it: the one
    /// time it is shown.
    pub fn rotate_hashed(&self) -> Result<Token, AuthError> {
        let token = Token::generate()?;
        self.replace_with(&token.digest().to_line())?;
        Ok(token)
    }

    /// Rewrites a file that holds a token (written by an older version) to hold its hash
    /// only, the same token: its clients keep working, the disk no longer shows it. Returns
    /// whether it did; a missing or already hashed file is left alone.
    pub fn hash_in_place(&self) -> Result<bool, AuthError> {
        match self.read() {
            Ok((_, Stored::Plain(token))) => {
                self.replace_with(&token.digest().to_line())?;
                Ok(true)
            }
            Ok((_, Stored::Hashed(_))) => Ok(false),
            Err(AuthError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Writes `line` to the file atomically (a temporary file renamed over it).
    fn replace_with(&self, line: &str) -> Result<(), AuthError> {
        let temp = self.write_temp(line)?;
        if let Err(source) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(self.write_error(source));
        }
        self.sync_dir();
        Ok(())
    }

    /// Reads the token, or creates the file with a new one when there is none. The flag is
    /// `true` when the token was created by this call: the one time it should be shown.
    /// When two processes create it at once, both end up with the same token.
    pub fn load_or_create(&self) -> Result<(Token, bool), AuthError> {
        match self.load() {
            Err(AuthError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            other => return other.map(|token| (token, false)),
        }
        let token = Token::generate()?;
        let temp = self.write_temp(token.as_str())?;
        // A hard link fails when the file exists: the token of whoever came first wins.
        let linked = fs::hard_link(&temp, &self.path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                self.sync_dir();
                Ok((token, true))
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                self.load().map(|token| (token, false))
            }
            Err(source) => Err(self.write_error(source)),
        }
    }

    /// Replaces the token with a new one (atomically: readers see the old file or the new
    /// one) and returns it. Works whether a token file exists or not, and also replaces a
    /// file that is malformed or was readable by others.
    pub fn rotate(&self) -> Result<Token, AuthError> {
        let token = Token::generate()?;
        self.replace_with(token.as_str())?;
        Ok(token)
    }

    /// The identity of the file and the token (or digest) it holds.
    fn read(&self) -> Result<(Fingerprint, Stored), AuthError> {
        let read_error = |source| AuthError::Read {
            path: self.path.clone(),
            source,
        };
        let mut file = fs::File::open(&self.path).map_err(read_error)?;
        // The checks are made on the open file, so a file swapped in between cannot pass.
        let meta = file.metadata().map_err(read_error)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuthError::Insecure {
                path: self.path.clone(),
                mode,
            });
        }
        let mut text = String::new();
        io::Read::read_to_string(&mut io::Read::take(&mut file, 4096), &mut text)
            .map_err(read_error)?;
        let text = text.trim();
        let stored = match TokenDigest::parse(text) {
            Some(digest) => Stored::Hashed(digest),
            None if text.starts_with(HASH_PREFIX) => {
                return Err(AuthError::Malformed {
                    path: self.path.clone(),
                });
            }
            None => Stored::Plain(Token::new(text).ok_or_else(|| AuthError::Malformed {
                path: self.path.clone(),
            })?),
        };
        Ok((Fingerprint::of(&meta), stored))
    }

    /// Writes `line` (a token, or a digest's line) to a new temporary file beside the token
    /// file, created with mode 0600 (never wider, whatever the umask), and synced. Creates the
    /// directory (mode 0700) when it is missing.
    fn write_temp(&self, line: &str) -> Result<PathBuf, AuthError> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| self.write_error(source))?;
        let name = self
            .path
            .file_name()
            .map_or_else(|| TOKEN_FILE_NAME.into(), |n| n.to_string_lossy());
        let mut salt = [0u8; 8];
        getrandom::fill(&mut salt).map_err(|err| AuthError::Random(err.to_string()))?;
        let temp = dir.join(format!(
            ".{name}.{}.{:016x}.tmp",
            std::process::id(),
            u64::from_le_bytes(salt)
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut file| {
                // The umask can only narrow the mode; this makes sure of the 0600 anyway.
                file.set_permissions(fs::Permissions::from_mode(0o600))?;
                writeln!(file, "{line}")?;
                file.sync_all()
            });
        match written {
            Ok(()) => Ok(temp),
            Err(source) => {
                let _ = fs::remove_file(&temp);
                Err(self.write_error(source))
            }
        }
    }

    /// Makes the new directory entry durable (best effort).
    fn sync_dir(&self) {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
    }

    fn write_error(&self, source: io::Error) -> AuthError {
        AuthError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

/// Which file a token was read from, and its state: a rotation replaces the file, an edit
/// changes its modification time, a `chmod` its mode and change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    mode: u32,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    fn of(meta: &fs::Metadata) -> Fingerprint {
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Where the server's token comes from.
enum Source {
    /// No token: every call that needs one is refused.
    Locked,
    /// A token fixed for the server's life (its digest only is kept).
    Fixed(TokenDigest),
    /// The token file, read again whenever it changed (so `iza token --rotate` takes effect
    /// on a running server). The digest read last, or `None` while the file is unusable.
    File {
        file: TokenFile,
        current: Mutex<Option<(Fingerprint, TokenDigest)>>,
        /// A missing file is normal (the read-only token exists only once created): no log.
        optional: bool,
    },
}

impl Source {
    /// The digest of the token requests are compared with, if there is one.
    fn current(&self) -> Option<TokenDigest> {
        match self {
            Source::Locked => None,
            Source::Fixed(digest) => Some(*digest),
            Source::File {
                file,
                current,
                optional,
            } => {
                let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
                let stat = fs::metadata(file.path()).map(|meta| Fingerprint::of(&meta));
                let unchanged = match (&*current, &stat) {
                    (Some((seen, _)), Ok(now)) => seen == now,
                    (None, Err(err)) => *optional && err.kind() == io::ErrorKind::NotFound,
                    _ => false,
                };
                if !unchanged {
                    *current = match file.read() {
                        Ok((seen, stored)) => {
                            tracing::info!("read the new token of `{}`", file.path().display());
                            Some((seen, stored.digest()))
                        }
                        Err(AuthError::Read { source, .. })
                            if *optional && source.kind() == io::ErrorKind::NotFound =>
                        {
                            None
                        }
                        Err(err) => {
                            tracing::error!(
                                "{err}; calls that need the token are refused until it is fixed"
                            );
                            None
                        }
                    };
                }
                current.as_ref().map(|(_, digest)| *digest)
            }
        }
    }
}

/// What a caller may do: read, operate, or everything. Ordered: each includes the ones before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Pushing results for one service (`POST /api/v1/services/{id}/results`) and nothing
    /// else: a push token of `.iza/push-tokens/<service>`.
    Push,
    /// Reads (and signing a browser in): the read-only token.
    Read,
    /// Reads and actions (start/stop/restart, runs, incidents, external claims), but not the
    /// raw definitions: the operate token of `.iza/operate-token`.
    Operate,
    /// Everything, raw definitions included: the token of `.iza/token`.
    Admin,
}

/// Who the caller is, as the middleware found out: the scope of the credential it presented
/// (a bearer token or a session cookie), `None` for an anonymous read. Handlers read it from
/// the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access(pub Option<Scope>);

impl Access {
    /// Whether the caller presented the admin token (or a session signed in with it).
    pub fn is_admin(self) -> bool {
        self.0 == Some(Scope::Admin)
    }
}

/// A signed-in browser: its secret, the scope and token it signed in with, its end.
struct Session {
    secret: Token,
    scope: Scope,
    token: TokenDigest,
    expires: std::time::Instant,
}

/// The live browser sessions, in memory only: a restart ends them all.
#[derive(Default)]
struct Sessions {
    live: Mutex<Vec<Session>>,
}

/// The access policy of the router: where the token comes from, and whether reads need it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    source: Arc<Source>,
    /// The read-only token, when the server accepts one.
    read: Option<Arc<Source>>,
    /// The operate token, when the server accepts one.
    operate: Option<Arc<Source>>,
    sessions: Arc<Sessions>,
    protect_reads: bool,
    /// The push tokens, one per service, when the server accepts them.
    push: Option<Arc<PushTokens>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &*self.source {
            Source::Locked => "locked".to_owned(),
            Source::Fixed(_) => "fixed token".to_owned(),
            Source::File { file, .. } => format!("token file `{}`", file.path().display()),
        };
        f.debug_struct("Auth")
            .field("source", &source)
            .field("protect_reads", &self.protect_reads)
            .finish()
    }
}

impl Default for Auth {
    fn default() -> Auth {
        Auth::locked()
    }
}

/// Why a request was refused: the `reason` of the 401 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Bearer` header.
    MissingToken,
    /// A bearer token that is not the server's.
    WrongToken,
    /// The server has no usable token, so nothing that needs one is allowed.
    NoServerToken,
    /// A session cookie that is unknown, expired, or from before a rotation or a restart.
    NoSession,
    /// The read-only token (or a session signed in with it) on a call that needs the admin
    /// token: 403.
    ReadOnly,
}

impl Denied {
    /// The reason, as the JSON answer gives it.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::MissingToken => "missing bearer token",
            Denied::WrongToken => "wrong token",
            Denied::NoServerToken => "no token configured on the server",
            Denied::NoSession => "expired or unknown session",
            Denied::ReadOnly => "read-only token",
        }
    }
}

impl Auth {
    /// No token: every call that needs one is refused (401, `no token configured on the
    /// server`). The default.
    pub fn locked() -> Auth {
        Auth {
            source: Arc::new(Source::Locked),
            read: None,
            operate: None,
            sessions: Arc::default(),
            push: None,
            protect_reads: false,
        }
    }

    /// A token fixed for the server's life.
    pub fn with_token(token: Token) -> Auth {
        Auth {
            source: Arc::new(Source::Fixed(token.digest())),
            read: None,
            operate: None,
            sessions: Arc::default(),
            push: None,
            protect_reads: false,
        }
    }

    /// The token of `file`, read now (so a missing or insecure file is reported at start)
    /// and again whenever the file changes: after `iza token --rotate` the old token is
    /// refused. While the file is unusable (removed, opened to others, malformed), every call
    /// that needs the token is refused and the cause is logged.
    pub fn from_file(file: TokenFile) -> Result<Auth, AuthError> {
        let (seen, stored) = file.read()?;
        let current = (seen, stored.digest());
        Ok(Auth {
            source: Arc::new(Source::File {
                file,
                current: Mutex::new(Some(current)),
                optional: false,
            }),
            read: None,
            operate: None,
            sessions: Arc::default(),
            push: None,
            protect_reads: false,
        })
    }

    /// What a server does at start: reads the token of `file`, creating the file when there
    /// is none, and follows it as [`Auth::from_file`] does. The token comes back only when this
    /// call created it: that is the one time the server shows it.
    pub fn load_or_create(file: TokenFile) -> Result<(Auth, Option<Token>), AuthError> {
        let (token, created) = file.load_or_create()?;
        let auth = Auth::from_file(file)?;
        Ok((auth, created.then_some(token)))
    }

    /// Makes reads need the token too (all but `GET /healthz`).
    #[must_use]
    pub fn protect_reads(mut self, protect: bool) -> Auth {
        self.protect_reads = protect;
        self
    }

    /// Whether reads need the token.
    pub fn protects_reads(&self) -> bool {
        self.protect_reads
    }

    /// Whether a request with this method to this path needs the token. Even with reads
    /// protected, `/healthz` and the dashboard's page and files (`/`, `/assets/...`: no data,
    /// the page asks for the token itself) stay open.
    pub fn needs_token(&self, method: &Method, path: &str) -> bool {
        let open_anyway = path == "/healthz" || path == "/" || path.starts_with("/assets/");
        // An acknowledgement link carries its own signature, checked by its handler.
        if path.starts_with(iza_runtime::alerts::ACK_LINK_PREFIX) {
            return false;
        }
        (!is_read(method) && path != MCP_PATH) || (self.protect_reads && !open_anyway)
    }

    /// Also accepts the read-only token fixed here (tests, embedding).
    #[must_use]
    pub fn with_read_token(mut self, token: Token) -> Auth {
        self.read = Some(Arc::new(Source::Fixed(token.digest())));
        self
    }

    /// Also accepts the read-only token of `file` (`.iza/read-token`), followed as the token
    /// is; a missing file means no read-only token, and is no error.
    #[must_use]
    pub fn read_tokens_from(mut self, file: TokenFile) -> Auth {
        self.read = Some(Arc::new(Source::File {
            file,
            current: Mutex::new(None),
            optional: true,
        }));
        self
    }

    /// Also accepts the push tokens of the files in `dir` (`.iza/push-tokens/<service>`),
    /// each for pushing the results of its service only; followed as the token is.
    #[must_use]
    pub fn push_tokens_from(mut self, dir: impl Into<PathBuf>) -> Auth {
        self.push = Some(Arc::new(PushTokens {
            dir: dir.into(),
            fixed: Mutex::default(),
            files: Mutex::default(),
        }));
        self
    }

    /// Also accepts this push token for one service (tests, embedding).
    #[must_use]
    pub fn with_push_token(mut self, service: &str, token: Token) -> Auth {
        let push = self.push.get_or_insert_with(|| {
            Arc::new(PushTokens {
                dir: PathBuf::new(),
                fixed: Mutex::default(),
                files: Mutex::default(),
            })
        });
        push.fixed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(service.to_owned(), token.digest());
        self
    }

    /// A push token presented on the results of its own service: the caller may push there.
    fn push_access(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Access> {
        let push = self.push.as_ref()?;
        if *method != Method::POST {
            return None;
        }
        let service = push_path(path)?;
        let bearer = bearer(headers)?;
        push.matches(service, bearer)
            .then_some(Access(Some(Scope::Push)))
    }

    /// Also accepts the operate token fixed here (tests, embedding).
    #[must_use]
    pub fn with_operate_token(mut self, token: Token) -> Auth {
        self.operate = Some(Arc::new(Source::Fixed(token.digest())));
        self
    }

    /// Also accepts the operate token of `file` (`.iza/operate-token`), followed as the token
    /// is; a missing file means no operate token, and is no error.
    #[must_use]
    pub fn operate_tokens_from(mut self, file: TokenFile) -> Auth {
        self.operate = Some(Arc::new(Source::File {
            file,
            current: Mutex::new(None),
            optional: true,
        }));
        self
    }

    /// Decides a request: `Ok` when it may go on. The token comes in `Authorization: Bearer`;
    /// a read may also present the [`SESSION_COOKIE`] a browser got from
    /// `POST /api/v1/session`. A call that changes something never goes by the cookie alone
    /// (a browser sends cookies with requests other sites make it send).
    pub fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Denied> {
        self.access(method, path, headers).map(|_| ())
    }

    /// Decides a request as [`Auth::check`] does, and says who the caller is. On a call that
    /// needs no token, a wrong credential counts as none.
    pub fn access(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Access, Denied> {
        if let Some(pushed) = self.push_access(method, path, headers) {
            return Ok(pushed);
        }
        let presented = self.presented(method, headers);
        // MCP reads and acts through one endpoint: the MCP handler decides per tool by scope,
        // so here `/mcp` counts as a read, and a wrong token is refused even where reads are
        // open (a client must not be served quietly as anonymous).
        let mcp = path == MCP_PATH;
        if !self.needs_token(method, path) {
            return match presented {
                Err(denied) if mcp => Err(denied),
                other => Ok(Access(other.ok().flatten())),
            };
        }
        let (admin, read) = (self.current(), self.current_read());
        let operate = self.current_operate();
        let reading = is_read(method) || mcp;
        let signing_in = *method == Method::POST && path == SESSION_PATH;
        if admin.is_none() && operate.is_none() && (read.is_none() || !(reading || signing_in)) {
            return Err(Denied::NoServerToken);
        }
        match presented? {
            None => Err(Denied::MissingToken),
            Some(Scope::Read) if !(reading || signing_in) => Err(Denied::ReadOnly),
            Some(scope) => Ok(Access(Some(scope))),
        }
    }

    /// The scope of the credential the request presents: its bearer token, or (on a read) its
    /// session cookie. `Ok(None)` when it presents none.
    fn presented(&self, method: &Method, headers: &HeaderMap) -> Result<Option<Scope>, Denied> {
        if let Some(bearer) = bearer(headers) {
            if self.current().is_some_and(|t| t.matches(bearer)) {
                return Ok(Some(Scope::Admin));
            }
            if self.current_operate().is_some_and(|t| t.matches(bearer)) {
                return Ok(Some(Scope::Operate));
            }
            if self.current_read().is_some_and(|t| t.matches(bearer)) {
                return Ok(Some(Scope::Read));
            }
            return Err(Denied::WrongToken);
        }
        if !is_read(method) {
            return Ok(None);
        }
        match session_cookie(headers) {
            Some(secret) => self.session(secret).map(Some).ok_or(Denied::NoSession),
            None => Ok(None),
        }
    }

    /// The digest of the token requests are compared with, if there is one.
    fn current(&self) -> Option<TokenDigest> {
        self.source.current()
    }

    /// The read-only token's digest, if there is one.
    fn current_read(&self) -> Option<TokenDigest> {
        self.read.as_ref().and_then(|source| source.current())
    }

    /// The operate token's digest, if there is one.
    fn current_operate(&self) -> Option<TokenDigest> {
        self.operate.as_ref().and_then(|source| source.current())
    }

    /// The digest of the token of a scope now.
    fn token_of(&self, scope: Scope) -> Option<TokenDigest> {
        match scope {
            Scope::Admin => self.current(),
            Scope::Operate => self.current_operate(),
            Scope::Read => self.current_read(),
            // A push token signs no browser in.
            Scope::Push => None,
        }
    }

    /// Opens a browser session of `scope`: a new random secret, valid for
    /// [`SESSION_LIFETIME`] while the token of that scope stays the one it is now.
    pub fn open_session(&self, scope: Scope) -> Result<Token, AuthError> {
        let secret = Token::generate()?;
        let token = self
            .token_of(scope)
            .ok_or_else(|| AuthError::Random("no token to sign in with".to_owned()))?;
        let now = std::time::Instant::now();
        let mut live = self
            .sessions
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        live.retain(|s| s.expires > now);
        if live.len() >= MAX_SESSIONS {
            live.remove(0);
        }
        live.push(Session {
            secret: secret.clone(),
            scope,
            token,
            expires: now + SESSION_LIFETIME,
        });
        Ok(secret)
    }

    /// The scope of the live session whose secret is `presented`: not expired, and signed in
    /// with the token its scope has now (a rotation ends it).
    fn session(&self, presented: &[u8]) -> Option<Scope> {
        let now = std::time::Instant::now();
        let found = {
            let live = self
                .sessions
                .live
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Every secret is compared, each in constant time.
            live.iter()
                .fold(None, |found, s| {
                    if s.secret.matches(presented) {
                        Some(s)
                    } else {
                        found
                    }
                })
                .filter(|s| s.expires > now)
                .map(|s| (s.scope, s.token))
        };
        let (scope, token) = found?;
        (self.token_of(scope).as_ref() == Some(&token)).then_some(scope)
    }

    /// Ends every session at once (tests; a rotation ends them one by one on their next use).
    pub fn end_sessions(&self) {
        self.sessions
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Makes every live session expire `by` earlier (tests of the expiry).
    #[doc(hidden)]
    pub fn age_sessions(&self, by: std::time::Duration) {
        let mut live = self
            .sessions
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for session in live.iter_mut() {
            session.expires = session.expires.checked_sub(by).unwrap_or(session.expires);
        }
    }
}

/// The MCP endpoint (`mcp.rs`).
pub const MCP_PATH: &str = "/mcp";

/// The path of the sign-in: it needs a token, and the read-only one is enough.
const SESSION_PATH: &str = "/api/v1/session";

/// The cookie in which a browser presents its session secret on reads, once signed in.
pub const SESSION_COOKIE: &str = "iza_session";

fn is_read(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The token of the [`SESSION_COOKIE`], if the request has it.
fn session_cookie(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let value = pair
                .strip_prefix(SESSION_COOKIE.as_bytes())?
                .strip_prefix(b"=")?;
            (!value.is_empty()).then_some(value)
        })
}

/// `POST /api/v1/session`: the caller presented a token (the middleware checked it); the
/// answer sets a new session secret, not the token, as the [`SESSION_COOKIE`] (HttpOnly,
/// SameSite=Strict, `Max-Age` of [`SESSION_LIFETIME`]) so that the browser's reads, the event
/// stream included, carry it when reads are protected. The session has the scope of the token.
pub(crate) async fn sign_in(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    axum::Extension(access): axum::Extension<Access>,
) -> Response {
    let Some(scope) = access.0 else {
        return ApiError::Unauthorized(Denied::MissingToken).into_response();
    };
    let secret = match state.auth.open_session(scope) {
        Ok(secret) => secret,
        Err(err) => {
            tracing::error!("cannot open a session: {err}");
            return ApiError::Unauthorized(Denied::NoServerToken).into_response();
        }
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict",
        secret.as_str(),
        SESSION_LIFETIME.as_secs()
    );
    (
        axum::http::StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie)],
    )
        .into_response()
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
/// The push tokens: one file per service in a directory, read when first presented and
/// followed as the token is (a rotation takes effect at once), plus fixed ones for tests.
struct PushTokens {
    dir: PathBuf,
    fixed: Mutex<std::collections::HashMap<String, TokenDigest>>,
    files: Mutex<std::collections::HashMap<String, Arc<Source>>>,
}

impl PushTokens {
    fn matches(&self, service: &str, presented: &[u8]) -> bool {
        if let Some(token) = self
            .fixed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(service)
        {
            return token.matches(presented);
        }
        if self.dir.as_os_str().is_empty() || !push_token_name_ok(service) {
            return false;
        }
        let source = {
            let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
            if files.len() > 10_000 && !files.contains_key(service) {
                files.clear();
            }
            files
                .entry(service.to_owned())
                .or_insert_with(|| {
                    Arc::new(Source::File {
                        file: TokenFile::new(self.dir.join(service)),
                        current: Mutex::new(None),
                        optional: true,
                    })
                })
                .clone()
        };
        source.current().is_some_and(|t| t.matches(presented))
    }
}

/// Whether a service id can name a push token file: no separator, no leading dot.
fn push_token_name_ok(service: &str) -> bool {
    !service.is_empty()
        && !service.starts_with('.')
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The service of a results path, `/api/v1/services/{id}/results`.
fn push_path(path: &str) -> Option<&str> {
    let service = path
        .strip_prefix("/api/v1/services/")?
        .strip_suffix("/results")?;
    (!service.contains('/')).then_some(service)
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The middleware: refuses with 401 what [`Auth::check`] refuses. `router` applies it to
/// every route, so routes added later are covered without further wiring.
pub async fn require_token(State(auth): State<Auth>, mut request: Request, next: Next) -> Response {
    match auth.access(request.method(), request.uri().path(), request.headers()) {
        Ok(access) => {
            request.extensions_mut().insert(access);
            next.run(request).await
        }
        Err(denied) => ApiError::Unauthorized(denied).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::new("0123456789abcdef0123").unwrap();
        let cases: [(&[u8], bool); 5] = [
            (b"0123456789abcdef0123", true),
            (b"0123456789abcdef0124", false),
            (b"0123456789abcdef012", false),
            (b"0123456789abcdef01234", false),
            (b"", false),
        ];
        for (presented, expected) in cases {
            assert_eq!(token.matches(presented), expected, "{presented:?}");
        }
    }

    #[test]
    fn only_long_visible_tokens_are_accepted() {
        let cases = [
            ("0123456789abcdef", true),
            ("0123456789abcde", false),
            ("0123456789 abcdef", false),
            ("0123456789abcdéf", false),
        ];
        for (text, valid) in cases {
            assert_eq!(Token::new(text).is_some(), valid, "{text}");
        }
    }

    #[test]
    fn the_bearer_header_is_read_strictly() {
        let cases: [(&str, Option<&[u8]>); 6] = [
            ("Bearer abc", Some(b"abc")),
            ("bearer abc ", Some(b"abc")),
            ("BEARER  abc", Some(b"abc")),
            ("Bearer ", None),
            ("Bearerabc", None),
            ("Basic YWJj", None),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            assert_eq!(bearer(&headers), expected, "{value}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn mutating_methods_need_the_token_and_reads_only_when_protected() {
        let open = Auth::locked();
        let closed = Auth::locked().protect_reads(true);
        let cases = [
            (Method::GET, "/api/v1/services", false, true),
            (Method::HEAD, "/metrics", false, true),
            (Method::GET, "/healthz", false, false),
            (Method::POST, "/healthz", true, true),
            (Method::POST, "/api/v1/x", true, true),
            (Method::PUT, "/api/v1/x", true, true),
            (Method::PATCH, "/api/v1/x", true, true),
            (Method::DELETE, "/api/v1/x", true, true),
            (Method::from_bytes(b"PURGE").unwrap(), "/", true, true),
        ];
        for (method, path, by_default, when_protected) in cases {
            assert_eq!(
                open.needs_token(&method, path),
                by_default,
                "{method} {path}"
            );
            assert_eq!(
                closed.needs_token(&method, path),
                when_protected,
                "{method} {path} (protected reads)"
            );
        }
    }

    #[test]
    fn a_hashed_token_file_holds_the_digest_and_matches_its_token_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path().join(".iza").join("operate-token"));
        let token = file.create_hashed().unwrap().expect("created");
        assert!(file.create_hashed().unwrap().is_none(), "made once");
        let text = fs::read_to_string(file.path()).unwrap();
        assert_eq!(text.trim(), token.digest().to_line());
        assert!(!text.contains(token.as_str()));
        assert!(file.is_hashed().unwrap());
        assert!(matches!(file.load(), Err(AuthError::Hashed { .. })));
        // The server follows the file by its digest.
        let auth = Auth::locked().operate_tokens_from(file.clone());
        let digest = auth.current_operate().unwrap();
        assert!(digest.matches(token.as_str().as_bytes()));
        assert!(!digest.matches(b"0123456789abcdef0123456789abcdef"));
        // A rotation replaces it; the old token no longer matches.
        let rotated = file.rotate_hashed().unwrap();
        let digest = auth.current_operate().unwrap();
        assert!(digest.matches(rotated.as_str().as_bytes()));
        assert!(!digest.matches(token.as_str().as_bytes()));
    }

    #[test]
    fn a_token_file_in_clear_is_hashed_in_place_and_keeps_its_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path().join("read-token"));
        assert!(!file.hash_in_place().unwrap(), "nothing to hash");
        let token = file.rotate().unwrap();
        assert_eq!(
            file.load().unwrap(),
            token,
            "in clear, as an older version wrote it"
        );
        assert!(file.hash_in_place().unwrap());
        assert!(!file.hash_in_place().unwrap(), "once");
        let meta = fs::metadata(file.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let auth = Auth::locked().read_tokens_from(file);
        assert!(
            auth.current_read()
                .unwrap()
                .matches(token.as_str().as_bytes())
        );
    }

    #[test]
    fn digest_lines_are_read_strictly() {
        let token = Token::generate().unwrap();
        let line = token.digest().to_line();
        assert!(line.starts_with("sha256:") && line.len() == 7 + 64);
        assert_eq!(TokenDigest::parse(&line), Some(token.digest()));
        for bad in [
            "sha256:",
            "sha256:xyz",
            &line[..line.len() - 1],
            &format!("{line}0"),
        ] {
            assert_eq!(TokenDigest::parse(bad), None, "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path().join("t"));
        file.replace_with("sha256:not-hex").unwrap();
        assert!(matches!(file.is_hashed(), Err(AuthError::Malformed { .. })));
    }
}
