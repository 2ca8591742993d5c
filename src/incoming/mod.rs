pub(crate) mod signature;
