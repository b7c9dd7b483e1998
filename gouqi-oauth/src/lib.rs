#[path = "asynchronous.rs"]
pub mod r#async;
mod credentials;
pub mod error;
mod http;
pub mod refresh;
pub mod source;
pub mod store;
pub mod sync;
pub mod token;
mod transport;

pub use credentials::Credentials;
pub use error::{Error, Result, StoreError};
pub use refresh::{Token, TokenCache};
pub use source::{Grant, RetryPolicy, TokenSource};
pub use store::{FileStore, MemoryStore, TokenStore};
pub use token::{Site, TokenSet};
pub use oauth2::{AccessToken, ClientId, ClientSecret, RedirectUrl, RefreshToken, TokenUrl};
pub use sync::Jira;
