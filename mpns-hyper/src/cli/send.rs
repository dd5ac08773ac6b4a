//! `mpns send`: one notification through the real client; prints the JSON of `decode`.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, EncodeArgs};
use crate::client::{ClientConfig, Identity};
use crate::proxy::{Proxy, ProxyConfig};
use crate::transport::{AnyClient, Transport, TransportKind};

/// Transport and TLS options shared by `send`, `batch` and `bench`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// How requests travel: `direct` (the core's own HTTP/1.1 over tokio
    /// streams; the cheaper) or `hyper` (hyper-util's client)
    #[arg(
        long,
        value_name = "KIND",
        default_value_t = TransportKind::Direct,
        global = true,
        help_heading = "Connection"
    )]
    pub transport: TransportKind,
    /// Client certificate chain (PEM) for authenticated https channels
    #[arg(long, value_name = "PEM", requires = "key", global = true)]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert
    #[arg(long, value_name = "PEM", requires = "cert", global = true)]
    pub key: Option<PathBuf>,
    /// Another CA certificate (PEM) to trust, e.g. the emulator's
    #[arg(long, value_name = "PEM", global = true)]
    pub ca: Vec<PathBuf>,
    /// Proxy for every channel, `http://[USER:PASSWORD@]HOST:PORT`, tunnelled
    /// with CONNECT [default: HTTPS_PROXY and HTTP_PROXY; NO_PROXY applies
    /// either way]
    #[arg(long, value_name = "URI", global = true, help_heading = "Connection")]
    pub proxy: Option<String>,
}

impl TlsArgs {
    /// The client configuration these options ask for.
    pub fn client_config(&self) -> Result<ClientConfig, CliError> {
        let mut config = ClientConfig {
            proxy: self.proxy_config(|name| std::env::var(name).ok())?,
            ..ClientConfig::default()
        };
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config.identity = Some(Identity::from_pem_files(cert, key).map_err(CliError::Client)?);
        }
        for ca in &self.ca {
            let pem =
                crate::input::read_file_limited(ca, crate::input::MAX_INPUT).map_err(|error| {
                    CliError::Read {
                        path: ca.clone(),
                        error,
                    }
                })?;
            config.extra_roots_pem.push(pem);
        }
        Ok(config)
    }

    /// The proxies: from `--proxy`, else from the variables `var` finds.
    pub fn proxy_config(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxyConfig, CliError> {
        // `--proxy` replaces the proxy variables (a bad one included); `NO_PROXY` still applies.
        let mut config = match &self.proxy {
            Some(_) => ProxyConfig::from_vars(|name| {
                name.eq_ignore_ascii_case("no_proxy")
                    .then(|| var(name))
                    .flatten()
            }),
            None => ProxyConfig::from_vars(var),
        }
        .map_err(CliError::Proxy)?;
        if let Some(uri) = &self.proxy {
            let proxy = Proxy::parse(uri, "--proxy").map_err(CliError::Proxy)?;
            config.https = Some(proxy.clone());
            config.http = Some(proxy);
        }
        Ok(config)
    }

    /// A client with these options.
    pub fn client(&self) -> Result<AnyClient, CliError> {
        AnyClient::new(self.transport, self.client_config()?).map_err(CliError::Client)
    }
}

/// `mpns send`: the arguments of `encode` plus TLS files.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Client certificate and trusted CAs.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// The notification, as for `encode`.
    #[command(flatten)]
    pub encode: EncodeArgs,
}

impl SendArgs {
    /// Sends the notification; returns the JSON line to print and what the
    /// answer means.
    pub fn run(&self) -> Result<(String, mpns_proto::Outcome), CliError> {
        if self.encode.request.channel.is_none() {
            return Err(CliError::MissingChannel);
        }
        let client = self.tls.client()?;
        let request = self.encode.with_request(|r| Ok(client.prepare(r)))?;
        let runtime = super::runtime()?;
        let response = runtime
            .block_on(async { client.send_prepared(request).await })
            .map_err(CliError::Transport)?;
        let outcome = mpns_proto::classify(&response);
        Ok((super::decode::to_json(&response).to_string(), outcome))
    }
}
