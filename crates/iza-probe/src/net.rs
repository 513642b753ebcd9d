//! Network helpers the kinds share: splitting `host:port`, opening a TCP connection and
//! recording what it tells (`[CONNECTED]`, `[IP]`), a TLS handshake that records the leaf
//! certificate's expiry, bounded line reads, and turning I/O, TLS and library errors into
//! short [`Failure`] messages.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::result::{Facts, Failure, Reason};

/// Splits `host:port` (`[::1]:443` for IPv6); the port may be omitted when there is a default.
pub(crate) fn split_host_port(
    target: &str,
    default_port: Option<u16>,
) -> Result<(String, u16), Failure> {
    let bad = || Failure::new(Reason::Target, format!("`{target}` is not `host:port`"));
    let target = target.trim();
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad()),
        }
    } else {
        match target.rsplit_once(':') {
            // A bare IPv6 address has several colons and no port.
            Some((host, _)) if host.contains(':') => (target, None),
            Some((host, port)) => (host, Some(port)),
            None => (target, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None => default_port.ok_or_else(bad)?,
    };
    Ok((host.to_owned(), port))
}

/// Opens a TCP connection, recording `[CONNECTED]` and `[IP]`.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    facts: &mut Facts,
) -> Result<TcpStream, Failure> {
    let stream = TcpStream::connect((host, port)).await.map_err(|e| {
        Failure::new(
            Reason::Connect,
            format!(
                "could not connect to `{}`: {}",
                display_addr(host, port),
                io_message(&e)
            ),
        )
    })?;
    facts.connected = true;
    facts.ip = stream.peer_addr().ok().map(|a| a.ip());
    // Small request/response exchanges: do not wait to coalesce writes.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// `host:port`, bracketing IPv6 addresses.
pub(crate) fn display_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Completes a TLS handshake over `stream`, recording `[CERTIFICATE_EXPIRATION]`.
pub(crate) async fn tls_handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    stream: TcpStream,
    facts: &mut Facts,
) -> Result<TlsStream<TcpStream>, Failure> {
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        Failure::new(
            Reason::Target,
            format!("`{host}` is not a valid TLS server name"),
        )
    })?;
    let tls = TlsConnector::from(config.clone())
        .connect(name, stream)
        .await
        .map_err(|e| tls_failure(&e, host))?;
    if let Some(leaf) = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
    {
        facts.certificate_expires_in_secs = crate::x509::not_after(leaf).map(seconds_until);
    }
    Ok(tls)
}

/// Seconds from now until a Unix time (negative when it has passed).
pub(crate) fn seconds_until(unix: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    unix.saturating_sub(now)
}

/// A failed handshake: a TLS failure when rustls said why, otherwise the I/O error.
pub(crate) fn tls_failure(error: &io::Error, host: &str) -> Failure {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Failure::new(Reason::Tls, tls_message(tls, host)),
        None => Failure::new(
            Reason::Protocol,
            format!("TLS handshake failed: {}", io_message(error)),
        ),
    }
}

/// A rustls error in words (`certificate is not trusted (unknown issuer)`).
pub(crate) fn tls_message(error: &rustls::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => "certificate is not trusted (unknown issuer)".to_owned(),
            C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "certificate is not valid yet".to_owned()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("certificate is not valid for `{host}`")
            }
            C::Revoked => "certificate is revoked".to_owned(),
            other => format!("invalid certificate: {other:?}"),
        },
        other => format!("TLS error: {other}"),
    }
}

/// An I/O error without the `(os error N)` suffix, starting lowercase.
pub(crate) fn io_message(error: &io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return format!("TLS error: {tls}");
    }
    let text = match error.kind() {
        io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => return "connection reset by peer".to_owned(),
        io::ErrorKind::UnexpectedEof => return "the server closed the connection".to_owned(),
        io::ErrorKind::TimedOut => return "timed out".to_owned(),
        _ => error.to_string(),
    };
    tidy(&text)
}

/// Removes ` (os error N)` and lowercases the first letter.
pub(crate) fn tidy(text: &str) -> String {
    let text = match text.find(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

/// The messages of an error and its sources, joined by `: `, skipping empty wrappers and
/// repeats; I/O errors look inside themselves (their `source()` skips the wrapped error).
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = next {
        let text = match e.downcast_ref::<io::Error>() {
            Some(io) => io_message(io),
            None => tidy(&e.to_string()),
        };
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    parts.join(": ")
}

/// The first rustls error in an error's chain, looking inside I/O errors.
pub(crate) fn find_tls_error<'e>(error: &'e (dyn StdError + 'static)) -> Option<&'e rustls::Error> {
    let mut next: Option<&'e (dyn StdError + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Reads one `\n`-terminated line of at most `max` bytes (terminator included); a longer
/// line or a connection closed mid-line is a protocol failure.
pub(crate) async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Vec<u8>, Failure> {
    let mut line = Vec::new();
    loop {
        let available = reader
            .fill_buf()
            .await
            .map_err(|e| Failure::new(Reason::Protocol, io_message(&e)))?;
        if available.is_empty() {
            return Err(Failure::new(
                Reason::Protocol,
                if line.is_empty() {
                    "the server closed the connection without answering"
                } else {
                    "the server closed the connection mid-answer"
                },
            ));
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Err(Failure::new(
                Reason::Protocol,
                format!("the server's answer is longer than {max} bytes"),
            ));
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(line);
        }
    }
}

/// Shows at most `max` characters of a server's text, for messages.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.chars().count() > max {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    } else {
        text.to_owned()
    }
}

/// Reads the URL of a protocol check (`redis://`, `amqps://`, ...): the URL, whether it names
/// the secure scheme, and its host without IPv6 brackets. Messages quote the text as given.
pub(crate) fn service_url(
    text: &str,
    plain: &str,
    secure: &str,
) -> Result<(url::Url, bool, String), Failure> {
    let invalid = |why: &str| Failure::new(Reason::Target, format!("`{text}` {why}"));
    let url = url::Url::parse(text).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    let tls = match url.scheme() {
        s if s == plain => false,
        s if s == secure => true,
        _ => {
            let article = if plain.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(invalid(&format!(
                "is not {article} `{plain}://` or `{secure}://` URL"
            )));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((url, tls, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_host_and_port() {
        /// (target, default port, expected host and port)
        type Case = (&'static str, Option<u16>, Option<(&'static str, u16)>);
        let cases: &[Case] = &[
            ("localhost:80", None, Some(("localhost", 80))),
            ("127.0.0.1:5432", None, Some(("127.0.0.1", 5432))),
            ("[::1]:443", None, Some(("::1", 443))),
            ("[::1]", Some(443), Some(("::1", 443))),
            ("::1", Some(53), Some(("::1", 53))),
            ("example.com", Some(443), Some(("example.com", 443))),
            ("example.com", None, None),
            ("example.com:0", None, None),
            ("example.com:http", None, None),
            (":80", None, None),
            ("[::1", None, None),
            ("[::1]x", None, None),
        ];
        for (target, default, expected) in cases {
            let got = split_host_port(target, *default).ok();
            let expected = expected.map(|(h, p)| (h.to_owned(), p));
            assert_eq!(got, expected, "{target}");
        }
    }

    #[test]
    fn io_messages_are_short() {
        assert_eq!(
            io_message(&io::Error::from(io::ErrorKind::ConnectionRefused)),
            "connection refused"
        );
        assert_eq!(tidy("Broken pipe (os error 32)"), "broken pipe");
        assert_eq!(tidy("TLS error"), "TLS error");
    }

    #[tokio::test]
    async fn lines_are_read_up_to_a_cap() {
        let mut reader: &[u8] = b"+PONG\r\nrest";
        assert_eq!(
            read_line_capped(&mut reader, 16).await.unwrap(),
            b"+PONG\r\n"
        );
        let mut long: &[u8] = &[b'x'; 100];
        let err = read_line_capped(&mut long, 16).await.unwrap_err();
        assert!(err.message.contains("longer than 16 bytes"), "{err}");
        let mut cut: &[u8] = b"+PO";
        let err = read_line_capped(&mut cut, 16).await.unwrap_err();
        assert!(err.message.contains("mid-answer"), "{err}");
    }
}
