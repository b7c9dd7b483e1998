//! Getting the first tokens: the authorization-code flow ([`flow`]), the
//! redirect it ends with, read from a loopback listener ([`loopback`],
//! RFC 8252 §7.3) or from what a user pasted ([`callback`]).

mod callback;
mod flow;
mod loopback;

pub use flow::{
    AuthorizationFlow, CLOUD_DEFAULT_SCOPES, DATA_CENTER_DEFAULT_SCOPES, Deployment, Endpoints,
    Login, PendingAuthorization, check_writable,
};
pub use loopback::{DEFAULT_LOGIN_TIMEOUT, LoopbackListener};
