//! [`OidcProvider`]: the local OpenID provider (`tools/oidc-dev/server.mjs`: npm's
//! oidc-provider, with a Naver Login sandbox beside it), a private one per test; and
//! [`log_in_at`]: its login screens gone through as a browser does.
//!
//! It needs Node.js and oidc-provider installed where `scripts/deps.sh` puts it
//! (`OIDC_DEV_MODULES`, default `~/.cache/pizza-oidc`).

use std::{collections::HashMap, path::PathBuf, process::Stdio, time::Duration};

use reqwest::Url;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The client every test provider knows.
pub const CLIENT_ID: &str = "pizza";
pub const CLIENT_SECRET: &str = "dev-client-secret-0123456789";

fn script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/oidc-dev/server.mjs"
    ))
}

/// A private provider on a port of its own, killed when dropped.
pub struct OidcProvider {
    pub port: u16,
    redirect_uris: Vec<String>,
    keys: tempfile::TempDir,
    child: Option<Child>,
}

impl OidcProvider {
    /// A provider whose client may send browsers back to `redirect_uris`; it accepts
    /// [`OidcProvider::tamper`].
    pub async fn start(redirect_uris: &[String]) -> anyhow::Result<Self> {
        let mut p = Self {
            port: 0,
            redirect_uris: redirect_uris.to_vec(),
            keys: tempfile::tempdir()?,
            child: None,
        };
        p.run(false).await?;
        Ok(p)
    }

    /// Its issuer (`http://127.0.0.1:<port>`).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The Naver sandbox's endpoints: authorize, token, profile.
    pub fn naver_urls(&self) -> [String; 3] {
        let i = self.issuer();
        [
            format!("{i}/naver/oauth2.0/authorize"),
            format!("{i}/naver/oauth2.0/token"),
            format!("{i}/naver/v1/nid/me"),
        ]
    }

    async fn run(&mut self, rotate: bool) -> anyhow::Result<()> {
        let mut child = Command::new("node")
            .arg(script())
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", self.redirect_uris.join(" "))
            .env("OIDC_KEYS_FILE", self.keys.path().join("keys.json"))
            .env("OIDC_ROTATE", if rotate { "1" } else { "0" })
            .env("OIDC_TAMPER", "1")
            .env("OIDC_STDIN_LIFELINE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot run node (make test installs it): {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .map_err(|_| anyhow::anyhow!("the OpenID provider did not start in 20 s"))??
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the OpenID provider exited at start (is oidc-provider installed? scripts/deps.sh)"
                )
            })?;
        let issuer = line
            .strip_prefix("oidc-dev listening on ")
            .and_then(|rest| rest.split(' ').next())
            .ok_or_else(|| anyhow::anyhow!("unexpected first line: {line}"))?;
        self.port = Url::parse(issuer)?.port().expect("a port");
        // Keep reading, so the provider never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }

    /// Stops it (a provider that is down).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Restarts it on the same port with a new signing key first (it signs from now on),
    /// the previous one still published.
    pub async fn rotate_keys(&mut self) -> anyhow::Result<()> {
        self.stop().await;
        self.run(true).await
    }

    /// The next ID token it issues is forged: `aud`, `iss`, `expired`, `nonce`, `none`,
    /// `unknown-key`, `signature`.
    pub async fn tamper(&self, mode: &str) -> anyhow::Result<()> {
        let res = crate::http()
            .post(format!("{}/__tamper?mode={mode}", self.issuer()))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 204, "tamper answered {}", res.status());
        Ok(())
    }
}

/// Goes through the provider's pages from `authorize_url` as a browser would (its own
/// cookies kept), logging in as `login`, until the provider sends the browser elsewhere: that
/// URL (the callback, with `code` and `state`). `http` must not follow redirects.
pub async fn log_in_at(
    http: &reqwest::Client,
    authorize_url: &str,
    login: &str,
) -> anyhow::Result<Url> {
    let mut jar: HashMap<String, String> = HashMap::new();
    let mut url = Url::parse(authorize_url)?;
    let origin = url.origin();
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..12 {
        let cookies = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form.take() {
            Some(fields) => http
                .post(url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields)
                        .finish(),
                ),
            None => http.get(url.clone()),
        };
        let res = req.header("cookie", cookies).send().await?;
        for set in res.headers().get_all("set-cookie") {
            if let Some((name, value)) = set
                .to_str()?
                .split(';')
                .next()
                .and_then(|c| c.split_once('='))
            {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        if res.status().is_redirection() {
            let next = url.join(res.headers()["location"].to_str()?)?;
            if next.origin() != origin {
                return Ok(next);
            }
            url = next;
            continue;
        }
        let status = res.status();
        let page = res.text().await?;
        anyhow::ensure!(status == 200, "the provider answered {status}: {page}");
        let action = attribute(&page, "form", "action").map(|a| unescape(&a));
        anyhow::ensure!(page.contains("name=\"login\""), "no login form: {page}");
        let mut fields: Vec<(String, String)> = inputs(&page)
            .into_iter()
            .filter(|(n, _)| n != "login" && n != "password")
            .collect();
        fields.push(("login".into(), login.into()));
        fields.push(("password".into(), "any password".into()));
        if let Some(action) = action {
            url = url.join(&action)?;
        }
        form = Some(fields);
    }
    anyhow::bail!("the provider never sent the browser back")
}

/// The first `<tag … name="…">` value, crudely: enough for the provider's own pages.
fn attribute(page: &str, tag: &str, name: &str) -> Option<String> {
    let start = page.find(&format!("<{tag}"))?;
    let end = start + page[start..].find('>')?;
    value_of(&page[start..end], name)
}

fn value_of(element: &str, name: &str) -> Option<String> {
    let at = element.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = element[at..].find('"')?;
    Some(element[at..at + len].to_owned())
}

/// The hidden inputs of a page: (name, value).
fn inputs(page: &str) -> Vec<(String, String)> {
    page.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let element = &rest[..rest.find('>')?];
            let name = value_of(element, "name")?;
            let value = value_of(element, "value").unwrap_or_default();
            Some((name, unescape(&value)))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
