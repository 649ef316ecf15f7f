//! Naver Login: OAuth 2.0 without OpenID Connect. The code is exchanged at the token endpoint
//! (which answers its errors with HTTP 200 and an `error` field), and who logged in comes
//! from the profile API (`response.id`), called with the access token. Naver has no PKCE
//! and no nonce; `state` and the browser cookie bind the flow as for the others.

use serde::Deserialize;
use url::Url;

use super::{Failure, Identity, Started, http_client::Http};

pub struct Naver {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: Url,
    pub token_url: Url,
    pub profile_url: Url,
    pub http: Http,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ProfileAnswer {
    resultcode: String,
    message: Option<String>,
    response: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    id: String,
    name: Option<String>,
    nickname: Option<String>,
}

fn down(e: reqwest::Error) -> Failure {
    Failure::Down(e.without_url().to_string())
}

impl Naver {
    pub fn start(&self, redirect: &Url) -> Started {
        let (state, _) = crate::tokens::new_opaque_token();
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect.as_str())
            .append_pair("state", &state);
        Started {
            url,
            state,
            nonce: None,
            pkce_verifier: None,
        }
    }

    pub async fn finish(&self, code: &str, state: &str) -> Result<Identity, Failure> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("code", code)
            .append_pair("state", state)
            .finish();
        let res = self
            .http
            .0
            .post(self.token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(down)?;
        if res.status().is_server_error() {
            return Err(Failure::Down(format!(
                "its token endpoint answered {}",
                res.status()
            )));
        }
        let answer: TokenAnswer = res
            .json()
            .await
            .map_err(|e| Failure::Refused(format!("the provider's answer is not valid: {e}")))?;
        let access_token = match (answer.access_token, answer.error) {
            (Some(t), None) => t,
            (_, error) => {
                return Err(Failure::Refused(format!(
                    "the provider refused the code ({}: {})",
                    error.as_deref().unwrap_or("no access token"),
                    answer.error_description.as_deref().unwrap_or("")
                )));
            }
        };
        let res = self
            .http
            .0
            .get(self.profile_url.clone())
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(down)?;
        if res.status().is_server_error() {
            return Err(Failure::Down(format!(
                "its profile API answered {}",
                res.status()
            )));
        }
        let profile: ProfileAnswer = res
            .json()
            .await
            .map_err(|e| Failure::Refused(format!("the profile answer is not valid: {e}")))?;
        match (profile.resultcode.as_str(), profile.response) {
            ("00", Some(p)) if !p.id.is_empty() => Ok(Identity {
                subject: p.id,
                name: p.name.or(p.nickname),
            }),
            (code, _) => Err(Failure::Refused(format!(
                "the profile API refused ({code}: {})",
                profile.message.as_deref().unwrap_or("")
            ))),
        }
    }
}
