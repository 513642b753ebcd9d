//! The `tcp` kind: open a TCP connection to `host:port`. Up when it connects; facts
//! `[CONNECTED]` and `[IP]`.

use crate::net;
use crate::result::{Facts, Failure};

/// Connects, then closes the connection.
pub(crate) async fn probe(target: &str, facts: &mut Facts) -> Result<(), Failure> {
    let (host, port) = net::split_host_port(target, None)?;
    let stream = net::connect(&host, port, facts).await?;
    drop(stream);
    Ok(())
}
