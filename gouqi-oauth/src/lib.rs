pub mod error;
mod http;
pub mod source;
pub mod store;
pub mod token;
