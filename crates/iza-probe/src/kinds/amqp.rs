//! The `amqp` kind: an AMQP 0-9-1 connection handshake with the broker (RabbitMQ), then a
//! clean close. The URL is `amqp://[user:password@]host[:5672][/vhost]` (`amqps://` for TLS,
//! port 5671); the user and password default to `guest`, the vhost to `/` (write `%2F` for
//! `/` inside a vhost name).
//!
//! The exchange: the protocol header `AMQP\0\0\x09\x01` → `connection.start` (class 10,
//! method 10; its server properties give the product and version) → `start-ok` with PLAIN
//! credentials → `connection.tune` → `tune-ok` → `connection.open` for the vhost →
//! `open-ok` → `connection.close` → `close-ok`. A `connection.close` from the broker instead
//! (403 ACCESS_REFUSED for bad credentials, 530 NOT_ALLOWED for a vhost) is reported with
//! the broker's own text. Facts `[CONNECTED]`, `[IP]`, `[BODY]` and the server
//! (`RabbitMQ 3.12.1`), `[CERTIFICATE_EXPIRATION]` over TLS.
//!
//! Hand-written rather than an AMQP client crate (lapin): the probe needs five methods of one
//! class, no channels and no consumers; a client brings its executor, reactor and state
//! machine into every build. Frames are read up to [`MAX_FRAME`] bytes and every field is
//! bounds-checked, so a hostile server can only make the probe fail.

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Prober;
use crate::net;
use crate::result::{Facts, Failure, Reason};

/// The largest frame read (a broker's `connection.start` is well under 1 KiB).
const MAX_FRAME: u32 = 128 * 1024;
const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
const CONNECTION: u16 = 10;
const START: u16 = 10;
const START_OK: u16 = 11;
const TUNE: u16 = 30;
const TUNE_OK: u16 = 31;
const OPEN: u16 = 40;
const OPEN_OK: u16 = 41;
const CLOSE: u16 = 50;
const CLOSE_OK: u16 = 51;

/// Connects, completes the handshake and closes.
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
        handshake(tls, &target, facts).await
    } else {
        handshake(stream, &target, facts).await
    }
}

/// What an AMQP URL asks for.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    user: String,
    password: String,
    vhost: String,
}

impl Target {
    fn parse(text: &str) -> Result<Target, Failure> {
        let (url, tls, host) = net::service_url(text, "amqp", "amqps")?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = match url.username() {
            "" => "guest".to_owned(),
            u => decode(u),
        };
        let password = url.password().map_or_else(|| "guest".to_owned(), decode);
        let vhost = match url.path() {
            "" | "/" => "/".to_owned(),
            path => decode(path.trim_start_matches('/')),
        };
        Ok(Target {
            tls,
            host,
            port: url.port().unwrap_or(if tls { 5671 } else { 5672 }),
            user,
            password,
            vhost,
        })
    }
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    target: &Target,
    facts: &mut Facts,
) -> Result<(), Failure> {
    write(&mut stream, PROTOCOL_HEADER).await?;
    let start = read_method(&mut stream, START, "connection.start").await?;
    let server = parse_start(&start)?;
    facts.server = server.clone();
    facts.body = server;

    let mut start_ok = Writer::method(START_OK);
    start_ok.table(&[
        ("product", Field::Text("iza-probe")),
        ("version", Field::Text(env!("CARGO_PKG_VERSION"))),
        ("connection_name", Field::Text("iza health probe")),
        (
            "capabilities",
            // Ask for a `connection.close` with a reason when authentication fails, rather
            // than a bare disconnect.
            Field::Table(&[("authentication_failure_close", Field::Bool(true))]),
        ),
    ]);
    start_ok.short_str("PLAIN");
    start_ok.long_bytes(format!("\0{}\0{}", target.user, target.password).as_bytes());
    start_ok.short_str("en_US");
    write(&mut stream, &start_ok.frame()).await?;

    let tune = match read_method(&mut stream, TUNE, "connection.tune").await {
        Err(f) if f.reason == Reason::Protocol && f.message.contains("closed the connection") => {
            return Err(Failure::new(
                Reason::Auth,
                "the broker hung up after the credentials (wrong user or password?)",
            ));
        }
        other => other?,
    };
    let (channel_max, frame_max) = parse_tune(&tune)?;
    let mut tune_ok = Writer::method(TUNE_OK);
    tune_ok.u16(channel_max);
    tune_ok.u32(frame_max);
    tune_ok.u16(0); // no heartbeats: the connection lives for one exchange
    write(&mut stream, &tune_ok.frame()).await?;

    let mut open = Writer::method(OPEN);
    open.short_str(&target.vhost);
    open.short_str(""); // reserved
    open.u8(0); // reserved bit
    write(&mut stream, &open.frame()).await?;
    read_method(&mut stream, OPEN_OK, "connection.open-ok").await?;

    let mut close = Writer::method(CLOSE);
    close.u16(200);
    close.short_str("iza probe done");
    close.u16(0);
    close.u16(0);
    write(&mut stream, &close.frame()).await?;
    // The handshake succeeded; a broker that does not confirm the close is not a failure.
    let _ = read_method(&mut stream, CLOSE_OK, "connection.close-ok").await;
    Ok(())
}

/// A decoded method frame of class `connection`: its arguments after the class and method ids.
struct Method {
    arguments: Vec<u8>,
}

/// Reads frames until a method frame of class `connection`; a `connection.close` from the
/// broker becomes a failure with its reply code and text.
async fn read_method<S: AsyncRead + Unpin>(
    stream: &mut S,
    wanted: u16,
    expected: &str,
) -> Result<Method, Failure> {
    loop {
        let mut header = [0u8; 7];
        stream
            .read_exact(&mut header)
            .await
            .map_err(|e| read_error(&e, expected))?;
        if &header[..4] == b"AMQP" {
            return Err(Failure::new(
                Reason::Protocol,
                "the broker does not speak AMQP 0-9-1 (it answered with its own protocol header)",
            ));
        }
        let kind = header[0];
        let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        if size > MAX_FRAME {
            return Err(Failure::new(
                Reason::Protocol,
                format!("the broker sent a {size}-byte frame; this is not AMQP 0-9-1"),
            ));
        }
        let mut payload = vec![0u8; size as usize + 1];
        stream
            .read_exact(&mut payload)
            .await
            .map_err(|e| read_error(&e, expected))?;
        if payload.pop() != Some(FRAME_END) {
            return Err(Failure::new(
                Reason::Protocol,
                "a frame does not end with 0xCE; this is not AMQP 0-9-1",
            ));
        }
        match kind {
            FRAME_HEARTBEAT => continue,
            FRAME_METHOD => {}
            other => {
                return Err(Failure::new(
                    Reason::Protocol,
                    format!("expected `{expected}`, got a frame of type {other}"),
                ));
            }
        }
        let mut reader = Reader(&payload);
        let class = reader.u16()?;
        let method = reader.u16()?;
        if class != CONNECTION {
            return Err(Failure::new(
                Reason::Protocol,
                format!("expected `{expected}`, got method {class}.{method}"),
            ));
        }
        if method == CLOSE {
            let code = reader.u16()?;
            let text = reader.short_str()?;
            let reason = if code == 403 {
                Reason::Auth
            } else {
                Reason::Rejected
            };
            return Err(Failure::new(
                reason,
                format!("the broker closed the connection: {code} {text}"),
            ));
        }
        if method != wanted {
            return Err(Failure::new(
                Reason::Protocol,
                format!("expected `{expected}`, got connection method {method}"),
            ));
        }
        return Ok(Method {
            arguments: reader.0.to_vec(),
        });
    }
}

fn read_error(error: &std::io::Error, expected: &str) -> Failure {
    let message = if error.kind() == std::io::ErrorKind::UnexpectedEof {
        format!("the broker closed the connection before `{expected}`")
    } else {
        format!("reading `{expected}` failed: {}", net::io_message(error))
    };
    Failure::new(Reason::Protocol, message)
}

async fn write<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| {
        Failure::new(Reason::Protocol, format!("AMQP: {}", net::io_message(&e)))
    };
    stream.write_all(bytes).await.map_err(io)?;
    stream.flush().await.map_err(io)
}

/// `connection.start`: checks the version and returns `product version` from the server
/// properties.
fn parse_start(method: &Method) -> Result<Option<String>, Failure> {
    let mut reader = Reader(&method.arguments);
    let (major, minor) = (reader.u8()?, reader.u8()?);
    if (major, minor) != (0, 9) {
        return Err(Failure::new(
            Reason::Protocol,
            format!("the broker speaks AMQP {major}-{minor}, not 0-9-1"),
        ));
    }
    let mut product = None;
    let mut version = None;
    let mut table = Reader(reader.long_bytes()?);
    while !table.0.is_empty() {
        let name = table.short_str()?;
        let value = table.field()?;
        match (name.as_str(), value) {
            ("product", Some(text)) => product = Some(text),
            ("version", Some(text)) => version = Some(text),
            _ => {}
        }
    }
    let mechanisms = String::from_utf8_lossy(reader.long_bytes()?).into_owned();
    if !mechanisms.split_whitespace().any(|m| m == "PLAIN") {
        return Err(Failure::new(
            Reason::Auth,
            format!("the broker does not offer PLAIN authentication (it offers `{mechanisms}`)"),
        ));
    }
    Ok(match (product, version) {
        (Some(p), Some(v)) => Some(format!("{p} {v}")),
        (p, v) => p.or(v),
    })
}

/// `connection.tune`: (channel-max, frame-max) to echo back.
fn parse_tune(method: &Method) -> Result<(u16, u32), Failure> {
    let mut reader = Reader(&method.arguments);
    let channel_max = reader.u16()?;
    let frame_max = reader.u32()?;
    Ok((channel_max, frame_max))
}

/// Reads AMQP fields from a byte slice, failing (never panicking) when it runs short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Failure> {
        let (taken, rest) = self.0.split_at_checked(n).ok_or_else(|| {
            Failure::new(
                Reason::Protocol,
                "a broker frame is shorter than its fields",
            )
        })?;
        self.0 = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, Failure> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Failure> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Failure> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn short_str(&mut self) -> Result<String, Failure> {
        let n = usize::from(self.u8()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    fn long_bytes(&mut self) -> Result<&'a [u8], Failure> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// One field value; its text when it is a string, `None` for any other type (skipped).
    fn field(&mut self) -> Result<Option<String>, Failure> {
        let kind = self.u8()?;
        let skip = match kind {
            b'S' => {
                return Ok(Some(
                    String::from_utf8_lossy(self.long_bytes()?).into_owned(),
                ));
            }
            b't' | b'b' | b'B' => 1,
            b'u' | b'U' | b's' => 2,
            b'I' | b'i' | b'f' => 4,
            b'D' => 5,
            b'l' | b'L' | b'd' | b'T' => 8,
            b'V' => 0,
            b'F' | b'A' | b'x' => {
                self.long_bytes()?;
                return Ok(None);
            }
            other => {
                return Err(Failure::new(
                    Reason::Protocol,
                    format!("a broker field has an unknown type `{}`", char::from(other)),
                ));
            }
        };
        self.take(skip)?;
        Ok(None)
    }
}

/// A field value written in a table.
enum Field<'a> {
    Text(&'a str),
    Bool(bool),
    Table(&'a [(&'a str, Field<'a>)]),
}

/// Builds a method frame on channel 0.
struct Writer(Vec<u8>);

impl Writer {
    fn method(method: u16) -> Writer {
        let mut w = Writer(Vec::with_capacity(256));
        w.u16(CONNECTION);
        w.u16(method);
        w
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    /// A short string; longer text is cut at 255 bytes (vhost names and tokens here are short).
    fn short_str(&mut self, s: &str) {
        let bytes = &s.as_bytes()[..s.len().min(255)];
        self.u8(bytes.len() as u8);
        self.0.extend_from_slice(bytes);
    }

    fn long_bytes(&mut self, b: &[u8]) {
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(b);
    }

    fn table(&mut self, fields: &[(&str, Field<'_>)]) {
        let mut inner = Writer(Vec::new());
        for (name, value) in fields {
            inner.short_str(name);
            match value {
                Field::Text(t) => {
                    inner.u8(b'S');
                    inner.long_bytes(t.as_bytes());
                }
                Field::Bool(b) => {
                    inner.u8(b't');
                    inner.u8(u8::from(*b));
                }
                Field::Table(t) => {
                    inner.u8(b'F');
                    inner.table(t);
                }
            }
        }
        self.long_bytes(&inner.0);
    }

    /// The frame: type, channel 0, size, payload, frame end.
    fn frame(self) -> Vec<u8> {
        let mut frame = Vec::with_capacity(self.0.len() + 8);
        frame.push(FRAME_METHOD);
        frame.extend_from_slice(&0u16.to_be_bytes());
        frame.extend_from_slice(
            &u32::try_from(self.0.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        frame.extend_from_slice(&self.0);
        frame.push(FRAME_END);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_to_guest_on_the_root_vhost() {
        let t = Target::parse("amqp://127.0.0.1").unwrap();
        assert_eq!(
            t,
            Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 5672,
                user: "guest".into(),
                password: "guest".into(),
                vhost: "/".into(),
            }
        );
        let t = Target::parse("amqps://bob:s%3Acret@mq:5000/prod%2Fa").unwrap();
        assert_eq!(
            (t.tls, t.port, t.password.as_str(), t.vhost.as_str()),
            (true, 5000, "s:cret", "prod/a")
        );
        for bad in ["http://x", "amqp://", "nope"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_start_frame_gives_product_and_version() {
        let mut w = Writer(Vec::new());
        w.u8(0);
        w.u8(9);
        w.table(&[
            ("capabilities", Field::Table(&[("x", Field::Bool(true))])),
            ("product", Field::Text("RabbitMQ")),
            ("version", Field::Text("3.12.1")),
        ]);
        w.long_bytes(b"AMQPLAIN PLAIN");
        w.long_bytes(b"en_US");
        let method = Method { arguments: w.0 };
        assert_eq!(
            parse_start(&method).unwrap().as_deref(),
            Some("RabbitMQ 3.12.1")
        );
    }

    #[test]
    fn short_or_odd_frames_fail_without_panicking() {
        for bytes in [
            &[][..],
            &[0, 9],
            &[0, 9, 0, 0, 0, 9, 1],
            &[0, 9, 0, 0, 0, 3, 1, b'a', b'?'],
        ] {
            let method = Method {
                arguments: bytes.to_vec(),
            };
            assert!(parse_start(&method).is_err(), "{bytes:?}");
        }
        let method = Method {
            arguments: vec![1, 0],
        };
        assert!(
            parse_start(&method)
                .unwrap_err()
                .message
                .contains("AMQP 1-0")
        );
    }
}
