//! Feature `nal`: connections opened through [`embedded_nal_async`]'s
//! [`TcpConnect`] and [`Dns`], the traits embassy-net implements
//! (`embassy_net::tcp::client::TcpClient`, `embassy_net::dns::DnsSocket`).
//! An embassy firmware gets an [`asynch::Connector`](crate::asynch::Connector)
//! without writing one:
//!
//! ```rust,ignore
//! let tcp = TcpClient::new(stack, &tcp_state); // embassy-net
//! let dns = DnsSocket::new(stack);
//! let client: asynch::StreamClient<_, 2> = asynch::StreamClient::new(NalConnector::new(&tcp, &dns));
//! let mut gateway = Gateway::new(sender, client, &mut buf);
//! ```
//!
//! [`NalConnector`] opens plain TCP. It refuses `https` channels (the
//! authenticated ones) with [`TransportError::Tls`]: TLS goes on top of the
//! TCP connection, see the crate documentation, "TLS on embedded-nal-async".
//! Give the TCP client a timeout (embassy-net's `TcpClient::set_timeout`) so
//! that a silent server cannot stall the gateway.

use core::net::{IpAddr, SocketAddr};

use embedded_io_async::Error as _;
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use mpns_proto::sender::TransportError;

use crate::asynch::Connector;
use crate::transport_error;

/// An [`asynch::Connector`](crate::asynch::Connector) over a TCP stack and a
/// resolver: channel hosts are looked up with `dns` (an IP address in the
/// URI is used as it is) and connected with `tcp`.
pub struct NalConnector<'a, T, D> {
    tcp: &'a T,
    dns: &'a D,
    addr_type: AddrType,
}

impl<'a, T: TcpConnect, D: Dns> NalConnector<'a, T, D> {
    /// A connector that asks `dns` for any address family.
    pub const fn new(tcp: &'a T, dns: &'a D) -> Self {
        NalConnector {
            tcp,
            dns,
            addr_type: AddrType::Either,
        }
    }

    /// Asks `dns` for this address family only (embassy-net without IPv6
    /// wants [`AddrType::IPv4`]).
    pub const fn with_addr_type(mut self, addr_type: AddrType) -> Self {
        self.addr_type = addr_type;
        self
    }

    /// Resolves `host` and opens a TCP connection to it. A failed lookup is
    /// [`TransportError::Other`]; a failed connection maps its error kind
    /// with [`transport_error`].
    pub async fn open(&self, host: &str, port: u16) -> Result<T::Connection<'a>, TransportError> {
        // A bracketed IPv6 literal as URIs write it.
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip = match literal.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => self
                .dns
                .get_host_by_name(host, self.addr_type.clone())
                .await
                .map_err(|_| {
                    debug!("DNS lookup of {:?} failed", host);
                    TransportError::Other
                })?,
        };
        self.tcp
            .connect(SocketAddr::new(ip, port))
            .await
            .map_err(|e| transport_error(e.kind()))
    }
}

impl<'a, T: TcpConnect, D: Dns> Connector for NalConnector<'a, T, D> {
    type Conn = T::Connection<'a>;

    async fn connect(
        &mut self,
        host: &str,
        port: u16,
        tls: bool,
    ) -> Result<Self::Conn, TransportError> {
        if tls {
            debug!("https channel refused: NalConnector opens plain TCP");
            return Err(TransportError::Tls);
        }
        self.open(host, port).await
    }
}

impl<T, D> core::fmt::Debug for NalConnector<'_, T, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NalConnector").finish_non_exhaustive()
    }
}
