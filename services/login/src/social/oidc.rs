//! An OpenID Connect provider (Google, Kakao, the local `dev`): its discovery document and
//! keys, fetched when first needed and kept an hour; the authorization request (code flow,
//! PKCE S256, `state`, `nonce`); the code exchange and the ID token's validation, all by the
//! `openidconnect` crate. A token signed by a key we do not know makes us fetch the keys
//! again (at most every ten seconds): that is how a rotation at the provider is picked up.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    DiscoveryError, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse as _,
    core::{
        CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
        CoreProviderMetadata,
    },
};
use tokio::sync::Mutex;
use url::Url;

use super::{Failure, Identity, Started, http_client::Http};

/// Discovery and keys are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// An unknown signing key refetches the keys at most this often.
const REFETCH_AT_MOST: Duration = Duration::from_secs(10);

pub struct Oidc {
    issuer: IssuerUrl,
    /// Other spellings of the issuer the provider puts in `iss` (Google: `accounts.google.com`).
    also_issuers: &'static [&'static str],
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: &'static [&'static str],
    http: Http,
    metadata: Mutex<Fetched>,
}

#[derive(Default)]
struct Fetched {
    at: Option<(Instant, Arc<CoreProviderMetadata>)>,
    /// When an unknown key last made us fetch again.
    refetched: Option<Instant>,
}

impl Oidc {
    pub fn new(
        issuer: &str,
        also_issuers: &'static [&'static str],
        client_id: &str,
        client_secret: &str,
        scopes: &'static [&'static str],
        http: Http,
    ) -> Self {
        Self {
            issuer: IssuerUrl::new(issuer.to_owned()).expect("checked at start"),
            also_issuers,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: ClientSecret::new(client_secret.to_owned()),
            scopes,
            http,
            metadata: Mutex::new(Fetched::default()),
        }
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The provider's discovery document with its keys: as fetched within the hour, or
    /// fetched now. `refetch` asks for fresh keys (unless an unknown key made us fetch them
    /// seconds ago already: a stream of forged tokens costs the provider one fetch in ten
    /// seconds).
    async fn metadata(&self, refetch: bool) -> Result<Arc<CoreProviderMetadata>, Failure> {
        let mut held = self.metadata.lock().await;
        let refetch = refetch
            && held
                .refetched
                .is_none_or(|t| t.elapsed() >= REFETCH_AT_MOST);
        if let Some((at, metadata)) = &held.at
            && at.elapsed() < METADATA_TTL
            && !refetch
        {
            return Ok(metadata.clone());
        }
        if refetch {
            held.refetched = Some(Instant::now());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| match e {
                DiscoveryError::Request(e) => Failure::Down(e.to_string()),
                other => Failure::Down(format!("its discovery document is not usable: {other}")),
            })?;
        let metadata = Arc::new(metadata);
        held.at = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    pub async fn start(&self, redirect: &Url) -> Result<Started, Failure> {
        let metadata = self.metadata(false).await?;
        let client = CoreClient::from_provider_metadata(
            (*metadata).clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.scopes.iter().filter(|s| **s != "openid") {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Started {
            url,
            state: state.into_secret(),
            nonce: Some(nonce.secret().clone()),
            pkce_verifier: Some(verifier.into_secret()),
        })
    }

    pub async fn finish(
        &self,
        redirect: &Url,
        code: String,
        nonce: &str,
        pkce_verifier: String,
    ) -> Result<Identity, Failure> {
        let metadata = self.metadata(false).await?;
        let client = CoreClient::from_provider_metadata(
            (*metadata).clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()))
        .set_auth_type(AuthType::RequestBody);
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| Failure::Down("it names no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => Failure::Refused(format!(
                    "the provider refused the code ({}): it was used already, has expired, or \
                     this login's proof (PKCE) does not match",
                    r.error()
                )),
                RequestTokenError::Request(e) => Failure::Down(e.to_string()),
                RequestTokenError::Parse(e, _) => {
                    Failure::Refused(format!("the provider's answer is not valid: {e}"))
                }
                RequestTokenError::Other(e) => Failure::Refused(e),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| Failure::Refused("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match self.verify(&metadata, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.metadata(true).await?;
                self.verify(&fresh, id_token, &nonce)
            }
            verified => verified,
        }
        .map_err(|e| Failure::Refused(format!("the ID token is not valid: {e}")))?;
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned())
            .or_else(|| {
                claims
                    .nickname()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned())
            })
            .or_else(|| claims.preferred_username().map(|n| n.as_str().to_owned()));
        Ok(Identity {
            subject: claims.subject().as_str().to_owned(),
            name,
        })
    }

    /// Signature (RS256 by a key of the provider's set), `iss`, `aud`, `exp` and `nonce`.
    fn verify(
        &self,
        metadata: &CoreProviderMetadata,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
        let verifier = CoreIdTokenVerifier::new_public_client(
            self.client_id.clone(),
            self.issuer.clone(),
            metadata.jwks().clone(),
        )
        .require_issuer_match(self.also_issuers.is_empty());
        let claims = id_token.claims(&verifier, nonce)?.clone();
        let iss = claims.issuer().as_str();
        if iss != self.issuer.as_str() && !self.also_issuers.contains(&iss) {
            return Err(ClaimsVerificationError::InvalidIssuer(format!(
                "expected `{}` (found `{iss}`)",
                self.issuer.as_str()
            )));
        }
        Ok(claims)
    }
}
