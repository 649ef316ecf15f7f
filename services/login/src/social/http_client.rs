//! The HTTP client the OpenID Connect crate calls providers with: reqwest, never following a
//! redirect (a token endpoint that redirects is refused, not followed), within `OAUTH_TIMEOUT`.

use std::{future::Future, pin::Pin, time::Duration};

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

#[derive(Clone)]
pub struct Http(pub reqwest::Client);

impl Http {
    pub fn new(timeout: Duration) -> Self {
        // reqwest's rustls takes its crypto from the process: ring, as sqlx's does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self(
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(2)))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a plain HTTP client builds"),
        )
    }
}

/// The provider could not be asked (refused connection, timeout, a body cut short).
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = Unreachable;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Unreachable>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let failed = |e: reqwest::Error| Unreachable(e.without_url().to_string());
            let request =
                reqwest::Request::try_from(request.map(reqwest::Body::from)).map_err(failed)?;
            let res = self.0.execute(request).await.map_err(failed)?;
            let mut answer = http::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                answer = answer.header(name, value);
            }
            let body = res.bytes().await.map_err(failed)?;
            answer
                .body(body.to_vec())
                .map_err(|e| Unreachable(e.to_string()))
        })
    }
}
