//! HTTP plumbing shared by every endpoint: body types and helpers, header constants.

pub mod body;
pub mod header;
mod problem;
pub mod request;
