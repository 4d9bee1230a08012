//! The `[store]` table: how the database is tuned.

use super::Checker;
use crate::store::Tuning;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    cache_mib: Option<Spanned<u64>>,
}

pub(super) fn tuning(raw: &RawStore, check: &mut Checker) -> Tuning {
    check
        .within(
            raw.cache_mib.as_ref(),
            "[store] cache_mib",
            Tuning::CACHE_MIB_RANGE,
        )
        .map_or_else(Tuning::default, Tuning::with_cache_mib)
}
