//! What the table stores of every backend share: values by property type ([`value`]),
//! the checked form of a ListFilter ([`filter`]), objects of a save as row values and rows
//! as objects ([`write`]), and the ObjectDataResponse JSON written straight from rows
//! ([`render`]).
//!
//! The description of a table ([`Table`]: its columns, key, keystore and the fixed JSON of
//! its objects) is the SQLite store's; other backends build it from the same definition
//! and keep their own identifiers beside it. Values travel as SQLite's value types
//! (`rusqlite::types::Value`), a plain enum of NULL, integer, real, text and bytes that
//! every backend can convert to and from.

pub(crate) mod filter;
pub(crate) mod render;
pub(crate) mod value;
pub(crate) mod write;

pub(crate) use crate::store::sqlite::tables::schema::{Column, Table, ID_COLUMN};
