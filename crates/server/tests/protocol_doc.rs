//! Keeps `docs/protocol.md` complete: every method, event and error code of `tidings-proto` has
//! its place in it, and every ```json example in it parses (and names only real methods, events
//! and codes).

use std::path::PathBuf;

use serde_json::Value;
use tidings_proto::ErrorCode;
use tidings_proto::events::ALL_EVENTS;
use tidings_proto::methods::ALL_METHODS;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md")
}

fn doc() -> String {
    let path = doc_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether `text` contains `number` with no digit directly before or after it.
fn mentions_number(text: &str, number: u32) -> bool {
    let needle = number.to_string();
    let bytes = text.as_bytes();
    text.match_indices(&needle).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + needle.len()).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

/// The ```json code blocks of a Markdown text: (line number of the opening fence, content).
fn json_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let fence = line.trim();
        match &mut open {
            None if fence == "```json" => open = Some((index + 1, String::new())),
            None => {}
            Some(_) if fence == "```" => blocks.extend(open.take()),
            Some((_, content)) => {
                content.push_str(line);
                content.push('\n');
            }
        }
    }
    assert!(
        open.is_none(),
        "a ```json block opened on line {} is never closed",
        open.map_or(0, |(l, _)| l)
    );
    blocks
}

#[test]
fn every_method_has_its_own_section() {
    let doc = doc();
    let missing: Vec<&str> = ALL_METHODS
        .iter()
        .copied()
        .filter(|m| !doc.contains(&format!("### `{m}`\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md has no section headed ### `<name>` for methods {missing:?}"
    );
}

#[test]
fn every_event_has_its_own_section() {
    let doc = doc();
    let missing: Vec<&str> = ALL_EVENTS
        .iter()
        .copied()
        .filter(|e| !doc.contains(&format!("### `{e}`\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md has no section headed ### `<name>` for events {missing:?}"
    );
}

#[test]
fn every_error_code_is_documented_with_its_number_and_name() {
    let doc = doc();
    let missing: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|code| {
            !mentions_number(&doc, code.as_u32()) || !doc.contains(&format!("`{code:?}`"))
        })
        .map(|code| format!("{} ({code:?})", code.as_u32()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md does not document error codes {missing:?}"
    );
}

#[test]
fn every_json_block_parses_and_names_only_real_methods_events_and_codes() {
    let doc = doc();
    let blocks = json_blocks(&doc);
    assert!(
        !blocks.is_empty(),
        "docs/protocol.md has no ```json examples"
    );
    for (line, content) in blocks {
        let value: Value = serde_json::from_str(&content).unwrap_or_else(|e| {
            panic!("the ```json block at docs/protocol.md line {line} is not JSON: {e}")
        });
        if let Some(method) = value.get("method") {
            let method = method.as_str().unwrap_or_default();
            assert!(
                ALL_METHODS.contains(&method),
                "line {line}: unknown method {method:?} in an example"
            );
        }
        if let Some(event) = value.get("event") {
            let event = event.as_str().unwrap_or_default();
            assert!(
                ALL_EVENTS.contains(&event),
                "line {line}: unknown event {event:?} in an example"
            );
        }
        if let Some(code) = value.get("code").and_then(Value::as_u64) {
            let known = code == 0
                || u32::try_from(code)
                    .ok()
                    .and_then(ErrorCode::from_u32)
                    .is_some();
            assert!(
                known,
                "line {line}: unknown error code {code} in an example"
            );
        }
    }
}

#[test]
fn the_number_check_respects_digit_boundaries() {
    assert!(mentions_number("| 10010 | GroupNotFound |", 10010));
    assert!(!mentions_number("100100 and 110010", 10010));
    assert!(mentions_number("code 6014.", 6014));
}
