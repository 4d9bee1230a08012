//! Transport errors rendered for people: in logs, attempt records and client errors.

/// The one rendering of an error with its causes, kept in `model` (pure) so every layer
/// (the console's client included) writes transport failures the same way.
pub use crate::model::error::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_are_kept_once() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(error_chain(&e), "error sending request: connection refused");
    }
}
