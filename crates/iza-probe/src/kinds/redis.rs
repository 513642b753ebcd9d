//! The `redis` kind: `PING` must answer `+PONG`. The URL is
//! `redis://[[user]:password@]host[:6379][/db]` (`rediss://` for TLS, port 6380 by default,
//! verified unless `verify_tls = false`). With a password it first sends `AUTH` (with the
//! user for an ACL login), with a database number `SELECT`. Facts `[CONNECTED]`, `[IP]`,
//! `[BODY]` (`PONG`), and `[CERTIFICATE_EXPIRATION]` over TLS.
//!
//! Hand-written rather than a Redis client crate: the probe needs three commands and one-line
//! replies, which is a few dozen lines of RESP; a client crate would bring its connection
//! manager, parser and feature set into every build for that. Replies are read up to
//! [`MAX_REPLY`] bytes, so a hostile server cannot make the probe buffer more.

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::Prober;
use crate::net;
use crate::result::{Facts, Failure, Reason};

/// The longest reply line read.
const MAX_REPLY: usize = 4096;

/// Connects, authenticates when asked, selects the database when asked, and pings.
pub(crate) async fn probe(
    prober: &Prober,
    url: &str,
    verify: bool,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let target = Target::parse(url)?;
    let stream = net::connect(&target.host, target.port, facts).await?;
    if target.tls {
        let config = prober.tls()?.for_verify(verify);
        let tls = net::tls_handshake(config, &target.host, stream, facts).await?;
        session(BufReader::new(tls), &target, facts).await
    } else {
        session(BufReader::new(stream), &target, facts).await
    }
}

/// What a Redis URL asks for.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    database: Option<u32>,
}

impl Target {
    fn parse(text: &str) -> Result<Target, Failure> {
        let invalid = |why: &str| Failure::new(Reason::Target, format!("`{text}` {why}"));
        let (url, tls, host) = net::service_url(text, "redis", "rediss")?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        let database = match url.path().trim_start_matches('/') {
            "" => None,
            db => Some(
                db.parse::<u32>()
                    .map_err(|_| invalid("has a database that is not a number"))?,
            ),
        };
        Ok(Target {
            tls,
            host,
            port: url.port().unwrap_or(if tls { 6380 } else { 6379 }),
            user,
            password,
            database,
        })
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: BufReader<S>,
    target: &Target,
    facts: &mut Facts,
) -> Result<(), Failure> {
    if let Some(password) = &target.password {
        let mut auth = vec!["AUTH"];
        if let Some(user) = &target.user {
            auth.push(user);
        }
        auth.push(password);
        match command(&mut stream, &auth).await? {
            Reply::Status(s) if s == "OK" => {}
            Reply::Error(e) => {
                return Err(Failure::new(
                    Reason::Auth,
                    format!("Redis refused AUTH: {e}"),
                ));
            }
            other => return Err(unexpected("AUTH", &other)),
        }
    }
    if let Some(database) = target.database {
        let database = database.to_string();
        match command(&mut stream, &["SELECT", &database]).await? {
            Reply::Status(s) if s == "OK" => {}
            Reply::Error(e) => return Err(refused(&e)),
            other => return Err(unexpected("SELECT", &other)),
        }
    }
    match command(&mut stream, &["PING"]).await? {
        Reply::Status(s) if s == "PONG" => {
            facts.body = Some(s);
            Ok(())
        }
        Reply::Error(e) => Err(refused(&e)),
        other => Err(unexpected("PING", &other)),
    }
}

/// A RESP reply line.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`
    Error(String),
    /// Anything else, as received.
    Other(String),
}

/// Sends one command as a RESP array of bulk strings and reads the reply's first line.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    parts: &[&str],
) -> Result<Reply, Failure> {
    let mut request = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        request.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    let io = |e: std::io::Error| {
        Failure::new(Reason::Protocol, format!("Redis: {}", net::io_message(&e)))
    };
    stream.get_mut().write_all(&request).await.map_err(io)?;
    stream.get_mut().flush().await.map_err(io)?;
    let line = net::read_line_capped(stream, MAX_REPLY).await?;
    Ok(parse_reply(&line))
}

fn parse_reply(line: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    match text.split_at_checked(1) {
        Some(("+", rest)) => Reply::Status(rest.to_owned()),
        Some(("-", rest)) => Reply::Error(rest.to_owned()),
        _ => Reply::Other(text.to_owned()),
    }
}

/// An error reply: an authentication problem (`NOAUTH`, `WRONGPASS`) or another refusal.
fn refused(error: &str) -> Failure {
    let reason = if error.starts_with("NOAUTH") || error.starts_with("WRONGPASS") {
        Reason::Auth
    } else {
        Reason::Rejected
    };
    Failure::new(reason, format!("Redis refused: {error}"))
}

fn unexpected(command: &str, reply: &Reply) -> Failure {
    let text = match reply {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        Reply::Other(o) => o.clone(),
    };
    Failure::new(
        Reason::Protocol,
        format!(
            "`{command}` got `{}`, which is not a Redis answer",
            net::excerpt(text.as_bytes(), 60)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_credentials_and_database() {
        let t = Target::parse("redis://127.0.0.1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("127.0.0.1", 6379, false));
        let t = Target::parse("rediss://alice:p%40ss@cache.local:7000/3").unwrap();
        assert_eq!(
            t,
            Target {
                tls: true,
                host: "cache.local".into(),
                port: 7000,
                user: Some("alice".into()),
                password: Some("p@ss".into()),
                database: Some(3),
            }
        );
        let t = Target::parse("redis://:secret@[::1]").unwrap();
        assert_eq!(
            (t.host.as_str(), t.user, t.password.as_deref()),
            ("::1", None, Some("secret"))
        );
        for bad in ["http://x", "redis://", "redis://h/x", "not a url"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_are_classified() {
        assert_eq!(parse_reply(b"+PONG\r\n"), Reply::Status("PONG".into()));
        assert_eq!(
            parse_reply(b"-NOAUTH x\r\n"),
            Reply::Error("NOAUTH x".into())
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 400\r\n"),
            Reply::Other("HTTP/1.1 400".into())
        );
        assert_eq!(parse_reply("é\r\n".as_bytes()), Reply::Other("é".into()));
    }
}
