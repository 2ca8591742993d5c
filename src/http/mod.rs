//! HTTP plumbing shared by every endpoint: body types and helpers, header constants, and
//! the one outbound client ([`client`]).

pub mod body;
pub mod client;
pub mod header;
mod problem;
pub mod request;
