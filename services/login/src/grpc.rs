//! `pizza.auth.v1.AuthService` — token verification for the other services (docs/contract.md §4).

use proto::auth::v1::{VerifyTokenRequest, VerifyTokenResponse, auth_service_server::AuthService};
use tonic::{Request, Response, Status};

use crate::AppState;

pub struct AuthGrpc {
    state: AppState,
}

impl AuthGrpc {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    /// The same check `/login/me/` makes: a valid JWT of a live session. The role and branch
    /// are the member's current ones, not the token's.
    #[tracing::instrument(skip_all, name = "VerifyToken")]
    async fn verify_token(
        &self,
        request: Request<VerifyTokenRequest>,
    ) -> Result<Response<VerifyTokenResponse>, Status> {
        let token = request.into_inner().token;
        let auth = self
            .state
            .authenticate(token.trim())
            .await
            .map_err(grpckit::status)?;
        Ok(Response::new(VerifyTokenResponse {
            member_id: auth.member.member_id,
            role: auth.member.role.as_str().to_owned(),
            bran_id: auth.member.bran_id.unwrap_or_default(),
            session_id: auth.claims.sid.to_string(),
            expires_at: auth.claims.exp,
        }))
    }
}
