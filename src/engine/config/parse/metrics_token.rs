//! `[engine] metrics_token` (or `metrics_token_file`, `metrics_token_env`): the bearer
//! token `GET /metrics` then asks for. At most one of the three; a file holds the token
//! alone (whitespace around it is not part of it), read from beside the config file.

use super::Checker;
use crate::engine::config::outbound::Secret;
use toml::Spanned;

pub(super) fn metrics_token(
    [inline, file, env]: [Option<&Spanned<String>>; 3],
    check: &mut Checker,
) -> Option<Secret> {
    let given: Vec<&Spanned<String>> = [inline, file, env].into_iter().flatten().collect();
    let first = *given.first()?;
    if given.len() > 1 {
        check.at(
            first.span(),
            "[engine] sets more than one of metrics_token, metrics_token_file and \
             metrics_token_env: keep one"
                .to_string(),
        );
        return None;
    }
    let value = if inline.is_some() {
        first.get_ref().clone()
    } else if file.is_some() {
        let full = check.dir.join(first.get_ref());
        match std::fs::read_to_string(&full) {
            Ok(text) => text,
            Err(e) => {
                check.at(
                    first.span(),
                    format!(
                        "cannot read metrics_token_file {}: {e}; write the token alone in it",
                        full.display()
                    ),
                );
                return None;
            }
        }
    } else {
        match std::env::var(first.get_ref()) {
            Ok(value) => value,
            Err(_) => {
                check.at(
                    first.span(),
                    format!(
                        "metrics_token_env names {}, which is not set (or not UTF-8) in the \
                         engine's environment",
                        first.get_ref()
                    ),
                );
                return None;
            }
        }
    };
    let token = value.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        check.at(
            first.span(),
            "the metrics token is empty or holds spaces: use one word, such as 32 random \
             hex characters (`openssl rand -hex 32`)"
                .to_string(),
        );
        return None;
    }
    Some(Secret::new(token.to_string()))
}
