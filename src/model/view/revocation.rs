//! What a revocation did, as the console and `keys revoke`/`tokens revoke` report it.
//! The kind is also what `credentials/revoked.jsonl` records (`store::revocations`).

use serde::{Deserialize, Serialize};

/// What a record revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevokedKind {
    /// A source API key (its UUID): every access and refresh token made from it.
    ApiKey,
    /// An OAuth client ID (issue 15 adds clients): every token issued to it.
    ClientId,
    /// An admin token (its ID): the token and every composer token minted with it.
    AdminToken,
}

/// One credential revoked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedItem {
    pub kind: RevokedKind,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// False when its file was already gone (revoked again, or deleted by hand).
    pub had_file: bool,
}

impl RevokedItem {
    /// The audit trail's action.
    pub fn action(&self) -> String {
        match self.kind {
            RevokedKind::ApiKey => "revoke-key",
            RevokedKind::ClientId => "revoke-client",
            RevokedKind::AdminToken => "revoke-token",
        }
        .to_string()
    }

    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} ({name})", self.id),
            None => self.id.clone(),
        }
    }
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeReport {
    pub revoked: Vec<RevokedItem>,
    /// Said to the user as well, e.g. that the engine could not be reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl RevokeReport {
    /// For people: one line per credential.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for item in &self.revoked {
            let what = match item.kind {
                RevokedKind::ApiKey => "API key",
                RevokedKind::ClientId => "client",
                RevokedKind::AdminToken => "admin token",
            };
            out += &format!("revoked {what} {}", item.describe());
            if !item.had_file {
                out += " (it had no file left; any token still made from it is ended)";
            }
            out.push('\n');
        }
        for note in &self.notes {
            out += &format!("note: {note}\n");
        }
        out
    }
}
