//! The `dns` kind: one query for the check's `record` type (`A` by default; `AAAA`, `CNAME`,
//! `MX`, `TXT`, `NS`, `SOA`, `PTR`, `SRV`, `CAA`...). The target is `name` (the system's
//! resolver configuration and hosts file) or `name@server[:port]` (that server alone, port 53
//! by default). Facts: `[DNS_RCODE]` (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`...),
//! `[BODY]` with the answers one per line, `[IP]` the first address answered, `[CONNECTED]`
//! when a server answered. Without conditions the check is up on `NOERROR` with at least one
//! record; with conditions an `NXDOMAIN` is a fact, not an error (`[DNS_RCODE] == NXDOMAIN`).
//!
//! Owns the shared [`Resolvers`] (hickory): the system one and one per explicit server, built
//! on first use and never caching answers, so every probe asks the server. Names under
//! `localhost.` and `.invalid.` are answered without a query (RFC 6761).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::Prober;
use crate::net;
use crate::result::{Facts, Failure, Reason};

/// How many explicit servers keep a resolver; past that, one is built per probe.
const MAX_CACHED_SERVERS: usize = 256;

/// The resolvers a prober reuses.
#[derive(Default)]
pub(crate) struct Resolvers {
    system: OnceLock<Result<Arc<TokioResolver>, String>>,
    by_server: Mutex<HashMap<SocketAddr, Arc<TokioResolver>>>,
}

impl Resolvers {
    fn system(&self) -> Result<Arc<TokioResolver>, Failure> {
        self.system
            .get_or_init(|| {
                let mut builder = TokioResolver::builder_tokio()
                    .map_err(|e| format!("the system resolver configuration is unusable: {e}"))?;
                tune(builder.options_mut(), ResolveHosts::Always);
                builder.build().map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| Failure::new(Reason::Target, e))
    }

    fn for_server(&self, server: SocketAddr) -> Result<Arc<TokioResolver>, Failure> {
        let mut cached = self.by_server.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(resolver) = cached.get(&server) {
            return Ok(resolver.clone());
        }
        let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
        for connection in &mut name_server.connections {
            connection.port = server.port();
        }
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![name_server]),
            TokioRuntimeProvider::default(),
        );
        tune(builder.options_mut(), ResolveHosts::Never);
        let resolver = builder
            .build()
            .map(Arc::new)
            .map_err(|e| Failure::new(Reason::Target, e.to_string()))?;
        if cached.len() < MAX_CACHED_SERVERS {
            cached.insert(server, resolver.clone());
        }
        Ok(resolver)
    }
}

/// No answer cache (a probe must ask), one attempt (the check has its own timeout and
/// interval), and the hosts file only for the system resolver.
fn tune(options: &mut ResolverOpts, hosts: ResolveHosts) {
    options.cache_size = 0;
    options.attempts = 1;
    options.use_hosts_file = hosts;
}

/// Resolves the name and records what the server said.
pub(crate) async fn probe(
    prober: &Prober,
    target: &str,
    record: &str,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let record_type = RecordType::from_str(&record.to_ascii_uppercase())
        .ok()
        .filter(|t| !matches!(t, RecordType::Unknown(_)))
        .ok_or_else(|| {
            Failure::new(
                Reason::Target,
                format!("`{record}` is not a DNS record type"),
            )
        })?;
    let (name, resolver) = match target.split_once('@') {
        Some((name, server)) => (name, prober.dns.for_server(server_addr(server)?)?),
        None => (target, prober.dns.system()?),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(Failure::new(
            Reason::Target,
            format!("`{target}` has no name to resolve"),
        ));
    }
    match resolver.lookup(name, record_type).await {
        Ok(lookup) => {
            facts.connected = true;
            facts.dns_rcode = Some(rcode(lookup.message().metadata.response_code));
            let answers: Vec<&RData> = lookup
                .answers()
                .iter()
                .map(|r| &r.data)
                .filter(|d| d.record_type() == record_type)
                .collect();
            facts.ip = answers.iter().find_map(|d| match d {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            });
            if !answers.is_empty() {
                let lines: Vec<String> = answers.iter().map(|d| d.to_string()).collect();
                facts.body = Some(lines.join("\n"));
            }
            Ok(())
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => {
            facts.connected = true;
            facts.dns_rcode = Some(rcode(no_records.response_code));
            Ok(())
        }
        Err(NetError::Dns(DnsError::ResponseCode(code))) => {
            facts.connected = true;
            facts.dns_rcode = Some(rcode(code));
            Ok(())
        }
        Err(NetError::Timeout) => Err(Failure::new(
            Reason::Timeout,
            format!("no DNS server answered for `{name}`"),
        )),
        Err(NetError::Io(e)) => Err(Failure::new(
            Reason::Connect,
            format!("could not ask a DNS server: {}", net::io_message(&e)),
        )),
        Err(e) => Err(Failure::new(
            Reason::Protocol,
            format!("resolving `{name}` failed: {}", net::error_chain(&e)),
        )),
    }
}

/// `1.2.3.4`, `1.2.3.4:5353`, `[::1]:53` or `::1`.
fn server_addr(text: &str) -> Result<SocketAddr, Failure> {
    let (host, port) = net::split_host_port(text, Some(53))?;
    let ip = host.parse::<IpAddr>().map_err(|_| {
        Failure::new(
            Reason::Target,
            format!("the DNS server `{text}` must be an IP address"),
        )
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// The response code's mnemonic (`NOERROR`, `NXDOMAIN`...).
fn rcode(code: ResponseCode) -> String {
    let name = match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        ResponseCode::BADVERS => "BADVERS",
        ResponseCode::BADSIG => "BADSIG",
        ResponseCode::BADKEY => "BADKEY",
        ResponseCode::BADTIME => "BADTIME",
        ResponseCode::BADMODE => "BADMODE",
        ResponseCode::BADNAME => "BADNAME",
        ResponseCode::BADALG => "BADALG",
        ResponseCode::BADTRUNC => "BADTRUNC",
        ResponseCode::BADCOOKIE => "BADCOOKIE",
        other => return format!("RCODE{}", u16::from(other)),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_codes_read_as_their_mnemonics() {
        assert_eq!(rcode(ResponseCode::NoError), "NOERROR");
        assert_eq!(rcode(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode(ResponseCode::Unknown(3840)), "RCODE3840");
    }

    #[test]
    fn servers_are_ip_addresses_with_an_optional_port() {
        assert_eq!(
            server_addr("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            server_addr("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(server_addr("dns.example:53").is_err());
    }
}
