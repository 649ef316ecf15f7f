//! [`NatsServer`]: a private `nats-server` with JetStream for each test that needs one.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use events::{Envelope, Event};

use crate::free_port;

/// A private `nats-server -js` on a free port, killed when dropped.
pub struct NatsServer {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// A configuration file (TLS, users) when the test gave one.
    config: Option<PathBuf>,
    /// How the test's own clients connect (credentials, TLS), [`NatsServer::client_options`].
    options: ClientOptions,
}

type ClientOptions = std::sync::Arc<dyn Fn() -> async_nats::ConnectOptions + Send + Sync>;

fn nats_binary() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return p.into();
    }
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "nats-server".into()
}

impl NatsServer {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with("").await
    }

    /// A server that also reads `config` (nats-server's configuration format: `tls { … }`,
    /// `authorization { … }`, …); the port, JetStream and its store stay the test's.
    pub async fn start_with(config: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = (!config.is_empty()).then(|| dir.path().join("nats.conf"));
        if let Some(f) = &file {
            std::fs::write(f, config)?;
        }
        let mut s = Self {
            port: free_port(),
            child: None,
            dir,
            config: file,
            options: std::sync::Arc::new(async_nats::ConnectOptions::new),
        };
        s.start_again().await?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and store (after [`NatsServer::stop`]).
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(nats_binary());
        if let Some(f) = &self.config {
            cmd.arg("-c").arg(f);
        }
        let child = cmd
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start nats-server: {e}"))?;
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if std::time::Instant::now() > deadline {
                anyhow::bail!("nats-server did not listen on {}", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// How [`NatsServer::client`] (and so every helper here) connects, for a server that
    /// asks for credentials or TLS.
    pub fn client_options(
        mut self,
        options: impl Fn() -> async_nats::ConnectOptions + Send + Sync + 'static,
    ) -> Self {
        self.options = std::sync::Arc::new(options);
        self
    }

    pub async fn client(&self) -> anyhow::Result<async_nats::Client> {
        Ok((self.options)().connect(self.url()).await?)
    }

    /// Every event of `E`'s stream stored so far, in order, with its `Nats-Msg-Id` (empty
    /// when the stream does not exist yet). The server is the test's own, so nothing of
    /// another test is in it. A message that is not an `E` fails the test.
    pub async fn stream_messages<E: Event>(&self) -> Vec<(Option<String>, Envelope<E>)> {
        let Ok(client) = self.client().await else {
            return vec![];
        };
        let js = async_nats::jetstream::new(client);
        let Ok(stream) = js.get_stream(E::STREAM.name).await else {
            return vec![];
        };
        let last = stream
            .get_info()
            .await
            .map(|i| i.state.last_sequence)
            .unwrap_or(0);
        let mut out = vec![];
        for seq in 1..=last {
            if let Ok(m) = stream.get_raw_message(seq).await {
                let id = m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned());
                let event = Envelope::decode(&m.payload).unwrap_or_else(|e| {
                    panic!(
                        "message {seq} of {} is not an event of it: {e}",
                        E::STREAM.name
                    )
                });
                out.push((id, event));
            }
        }
        out
    }

    /// Publishes `event` to its stream as its producer's relay would (the envelope, with its
    /// id as `Nats-Msg-Id`), once the stream exists (a consumer or the producer makes it; at
    /// most 10 s); its envelope. For tests that play the part of another service.
    pub async fn publish<E: Event>(&self, event: E) -> anyhow::Result<Envelope<E>> {
        let js = async_nats::jetstream::new(self.client().await?);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while js.get_stream(E::STREAM.name).await.is_err() {
            if std::time::Instant::now() > deadline {
                anyhow::bail!("stream {} was never made", E::STREAM.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let envelope = Envelope::new(event);
        let msg = async_nats::jetstream::message::PublishMessage::build()
            .payload(serde_json::to_vec(&envelope)?.into())
            .message_id(envelope.id.to_string());
        js.send_publish(envelope.subject(), msg).await?.await?;
        Ok(envelope)
    }

    /// The events of [`NatsServer::stream_messages`].
    pub async fn events<E: Event>(&self) -> Vec<Envelope<E>> {
        self.stream_messages()
            .await
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }
}

/// `n` private servers routed into one cluster with JetStream (server names `n0`, `n1`, …),
/// for tests of what a production NATS (three servers, R=3 streams) does when one goes.
pub struct NatsCluster {
    pub servers: Vec<NatsServer>,
}

impl NatsCluster {
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let all = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut servers = Vec::with_capacity(n);
        for (i, port) in routes.iter().enumerate() {
            let config = format!(
                "server_name: n{i}\ncluster {{\n  name: pizza-test\n  listen: 127.0.0.1:{port}\n  routes: [{all}]\n}}\n"
            );
            servers.push(NatsServer::start_with(&config).await?);
        }
        Ok(Self { servers })
    }

    /// Every server's client URL, comma-separated, as a service is given a cluster's.
    pub fn url(&self) -> String {
        self.servers
            .iter()
            .map(|s| s.url())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
