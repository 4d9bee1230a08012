//! Where access and refresh tokens (sessions) are kept: the embedded store, or the
//! PostgreSQL store shared by several nodes (a token from one node works on all).
//! Synchronous for the CLI and the token endpoints; the request path's check is async.

use super::postgres::{PgStore, blocking};
use super::{Result, Rotation, Session, Store};
use uuid::Uuid;

#[derive(Clone)]
pub enum Sessions {
    Embedded(Store),
    Shared(PgStore),
}

impl Sessions {
    pub fn put_session(&self, token_hash: &[u8; 32], session: &Session) -> Result<()> {
        match self {
            Sessions::Embedded(store) => store.put_session(token_hash, session),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.put_session(token_hash, session))?),
        }
    }

    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        match self {
            Sessions::Embedded(store) => store.session(token_hash),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.session(token_hash))?),
        }
    }

    /// [`Sessions::session`] for the request path: on the shared store the worker
    /// goes on with other requests while the database answers.
    pub async fn session_async(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        match self {
            Sessions::Embedded(store) => store.session(token_hash),
            Sessions::Shared(pg) => Ok(pg.session(token_hash).await?),
        }
    }

    pub fn rotate_refresh(&self, token_hash: &[u8; 32], new_family: Uuid) -> Result<Rotation> {
        match self {
            Sessions::Embedded(store) => store.rotate_refresh(token_hash, new_family),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.rotate_refresh(token_hash, new_family))?),
        }
    }

    pub fn end_family(&self, family: Uuid) -> Result<usize> {
        match self {
            Sessions::Embedded(store) => store.end_family(family),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.end_family(family))?),
        }
    }

    pub fn family_ended(&self, family: Uuid) -> Result<bool> {
        match self {
            Sessions::Embedded(store) => store.family_ended(family),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.family_ended(family))?),
        }
    }

    /// Every session with its token hash.
    pub fn all(&self) -> Result<Vec<([u8; 32], Session)>> {
        match self {
            Sessions::Embedded(store) => store.sessions().collect(),
            Sessions::Shared(pg) => Ok(blocking::wait(pg.sessions())?),
        }
    }

    /// Removes every session `revoke` picks, and every expired one; how many it picked.
    pub fn remove_sessions(&self, revoke: impl Fn(&Session) -> bool) -> Result<usize> {
        match self {
            Sessions::Embedded(store) => store.remove_sessions(revoke),
            Sessions::Shared(pg) => {
                let picked: Vec<[u8; 32]> = self
                    .all()?
                    .into_iter()
                    .filter(|(_, s)| revoke(s))
                    .map(|(hash, _)| hash)
                    .collect();
                blocking::wait(pg.remove_sessions(&picked))?;
                Ok(picked.len())
            }
        }
    }
}
