//! What every path that talks to a destination shares.

pub mod classify;
