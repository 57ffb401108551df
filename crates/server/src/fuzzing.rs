//! Entry points for the coverage-guided fuzz targets (`fuzz/`): the server's decoding of
//! untrusted input, reachable without a connection. Not an API for anything else.

/// Decodes a WebSocket text frame as a logged-in connection would (envelope, method, params)
/// without running the request: the response frame a refused request gets, or `None` for one
/// that would run. Never panics, whatever the text.
#[doc(hidden)]
pub fn decode_request_frame(text: &str) -> Option<String> {
    crate::gateway::decode_frame(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's committed seeds, each a request of the protocol (or a refusal case).
    #[test]
    fn every_ws_frame_seed_is_decoded_or_refused_with_a_code() {
        let seeds =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/ws_frame");
        let mut count = 0;
        for entry in std::fs::read_dir(&seeds).expect("the seeds directory") {
            let path = entry.expect("a seed").path();
            let text = std::fs::read_to_string(&path).expect("a UTF-8 seed");
            if let Some(refusal) = decode_request_frame(&text) {
                let refusal: serde_json::Value = serde_json::from_str(&refusal).expect("JSON");
                assert_ne!(refusal["code"], 0, "{}: {refusal}", path.display());
            }
            count += 1;
        }
        assert!(count >= 26, "{count} seeds");
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        assert_eq!(
            decode_request_frame(r#"{"id":3,"method":"sendMessage","params":{"receiver":7}}"#)
                .as_deref(),
            Some(
                r#"{"id":3,"code":6017,"desc":"invalid params for sendMessage: receiver: invalid type: integer `7`, expected a string at line 1 column 13","data":null}"#
            )
        );
        assert_eq!(
            decode_request_frame(r#"{"id":4,"method":"getJoinedGroupList"}"#),
            None
        );
    }
}
