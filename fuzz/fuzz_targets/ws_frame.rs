//! Fuzzes the decoding of a WebSocket request frame (envelope, method, params) as a logged-in
//! connection sees it: any text must be answered or accepted, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The socket layer passes only valid UTF-8 on as a text frame.
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(response) = tidings_server::fuzzing::decode_request_frame(text)
    {
        // A refusal is a JSON response frame with a non-zero code.
        let response: serde_json::Value =
            serde_json::from_str(&response).expect("a refusal is JSON");
        assert_ne!(response["code"], 0, "{response}");
    }
});
