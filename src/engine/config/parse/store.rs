//! The `[store]` table: how the database is tuned, and `url`: a PostgreSQL store
//! shared by several nodes instead of the embedded one.

use super::Checker;
use crate::store::Tuning;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    cache_mib: Option<Spanned<u64>>,
    url: Option<Spanned<String>>,
}

/// What `--store` takes for the embedded store, whatever the file's `[store] url` says.
pub const EMBEDDED: &str = "sled";

/// The shared store: `given` (`--store`, `SWITCHBOARD_STORE`) first, else `[store] url`;
/// `None`: the embedded store under the data directory.
pub(super) fn shared(
    raw: &RawStore,
    given: Option<&str>,
    check: &mut Checker,
) -> Option<crate::store::postgres::PgLocation> {
    if given == Some(EMBEDDED) {
        return None;
    }
    if let Some(given) = given.filter(|g| !g.is_empty()) {
        return match given.parse() {
            Ok(at) => Some(at),
            Err(e) => {
                check.problems.push(format!("--store: {e}"));
                None
            }
        };
    }
    let url = raw.url.as_ref()?;
    match url.get_ref().parse() {
        Ok(at) => Some(at),
        Err(e) => {
            check.at(url.span(), format!("[store] url: {e}"));
            None
        }
    }
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
