//! A FHIR server's answer passed on with only its Bundle links rewritten: `link[].url`
//! and `entry[].fullUrl` under the server's base are put under the engine's base, the
//! rest (query strings included) kept, so a `next` link followed through the engine
//! reaches the same page of the server.

use serde_json::Value;

/// `url` moved from under `server` to under `engine`, when it is under `server`.
pub fn rebase(url: &str, server: &str, engine: &str) -> Option<String> {
    let rest = url.strip_prefix(server.trim_end_matches('/'))?;
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        .then(|| format!("{}{rest}", engine.trim_end_matches('/')))
}

/// Rewrites a Bundle's links in place; any other resource is left as it is.
pub fn rewrite(body: &mut Value, server: &str, engine: &str) {
    if body.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return;
    }
    let fix = |field: Option<&mut Value>| {
        if let Some(v) = field
            && let Some(url) = v.as_str()
            && let Some(moved) = rebase(url, server, engine)
        {
            *v = Value::String(moved);
        }
    };
    if let Some(links) = body.get_mut("link").and_then(Value::as_array_mut) {
        for link in links {
            fix(link.get_mut("url"));
        }
    }
    if let Some(entries) = body.get_mut("entry").and_then(Value::as_array_mut) {
        for entry in entries {
            fix(entry.get_mut("fullUrl"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_under_the_server_move_to_the_engine() {
        let mut bundle = json!({
            "resourceType": "Bundle",
            "link": [
                {"relation": "self", "url": "http://s/fhir/Patient?identifier=1"},
                {"relation": "next", "url": "http://s/fhir/Patient?identifier=1&_offset=1"},
                {"relation": "other", "url": "http://elsewhere/x"}
            ],
            "entry": [{"fullUrl": "http://s/fhir/Patient/p1"}, {"fullUrl": "http://s/fhirx/P"}]
        });
        rewrite(
            &mut bundle,
            "http://s/fhir/",
            "https://e/fhir/R4/a/Development",
        );
        assert_eq!(
            bundle["link"][1]["url"],
            "https://e/fhir/R4/a/Development/Patient?identifier=1&_offset=1"
        );
        assert_eq!(bundle["link"][2]["url"], "http://elsewhere/x");
        assert_eq!(
            bundle["entry"][0]["fullUrl"],
            "https://e/fhir/R4/a/Development/Patient/p1"
        );
        assert_eq!(bundle["entry"][1]["fullUrl"], "http://s/fhirx/P");
    }
}
