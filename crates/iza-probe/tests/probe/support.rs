//! Test support: building checks, a free port, and small HTTP servers with hand-written
//! behaviours (healthy, slow, hanging, resetting, redirecting forever, 1 GB, garbage) that
//! the tests start on 127.0.0.1 port 0 and that record the requests they receive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use iza_catalog::model::{Check, CheckTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A check with the catalog's defaults and the given timeout and conditions.
pub(crate) fn check(target: CheckTarget, timeout: Duration, conditions: &[&str]) -> Check {
    Check {
        target,
        method: "GET".to_owned(),
        headers: IndexMap::new(),
        body: None,
        follow_redirects: true,
        verify_tls: true,
        record: "A".to_owned(),
        shell: false,
        every: Duration::from_secs(30),
        timeout,
        conditions: conditions
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("{c}: {e}")))
            .collect(),
        failure_threshold: 3,
        success_threshold: 2,
        regions: Vec::new(),
        quorum: 0,
    }
}

/// A port nothing listens on (bound, then released).
pub(crate) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub(crate) enum Behaviour {
    /// Writes these bytes (a whole HTTP response) and closes.
    Respond(Vec<u8>),
    /// Waits, then writes the response.
    RespondAfter(Duration, Vec<u8>),
    /// Keeps the connection open and never answers.
    Hang,
    /// Closes with a TCP reset (SO_LINGER 0).
    Reset,
    /// Writes headers announcing 1 GiB, then streams zeros for as long as the client reads.
    Gigabyte,
    /// Writes bytes that are not HTTP, then closes.
    Garbage,
    /// Writes a response head and these body parts, then keeps the connection open.
    StreamThenHang(Vec<u8>),
}

/// A response with a status, extra headers and a body.
pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    head.into_bytes()
}

/// A running test server.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) requests: mpsc::UnboundedReceiver<Request>,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Starts a server answering every request with `behaviour(request)`.
pub(crate) async fn serve(
    behaviour: impl Fn(&Request) -> Behaviour + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, requests) = mpsc::unbounded_channel();
    let behaviour = Arc::new(behaviour);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviour.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let _ = handle(stream, &*behaviour, &sender).await;
            });
        }
    });
    Server { addr, requests }
}

async fn handle(
    mut stream: TcpStream,
    behaviour: &(dyn Fn(&Request) -> Behaviour + Send + Sync),
    sender: &mpsc::UnboundedSender<Request>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let action = behaviour(&request);
    let _ = sender.send(request);
    match action {
        Behaviour::Respond(bytes) => stream.write_all(&bytes).await?,
        Behaviour::RespondAfter(delay, bytes) => {
            tokio::time::sleep(delay).await;
            stream.write_all(&bytes).await?;
        }
        Behaviour::Hang => hang(stream).await,
        Behaviour::Reset => {
            stream.set_zero_linger()?;
            drop(stream);
        }
        Behaviour::Gigabyte => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
                .await?;
            let chunk = vec![b'0'; 64 * 1024];
            for _ in 0..(1024 * 1024 * 1024 / chunk.len()) {
                stream.write_all(&chunk).await?;
            }
        }
        Behaviour::Garbage => {
            stream
                .write_all(b"\x00\xffSSH-2.0-not-http\r\n\x01\x02garbage\r\n\r\n")
                .await?;
        }
        Behaviour::StreamThenHang(bytes) => {
            stream.write_all(&bytes).await?;
            hang(stream).await;
        }
    }
    Ok(())
}

/// Holds the connection until the client goes away.
async fn hang(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buffer.len() > 64 * 1024 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// A raw TCP server that writes `bytes` to every connection, then keeps it open until the
/// client leaves (for protocol kinds talking to something that is not their server).
pub(crate) async fn raw(bytes: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(bytes).await;
                hang(stream).await;
            });
        }
    });
    addr
}
