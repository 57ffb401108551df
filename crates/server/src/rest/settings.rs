//! Tidings' own admin endpoints: read and change the read-receipt and webhook settings (the
//! before-send hooks among them) at
//! runtime (`v4/tidings/get_settings`, `v4/tidings/set_settings`); a change is saved with the
//! data before it applies, so it survives a restart.

use serde_json::{Map, Value, json};
use tidings_proto::GroupType;
use tidings_service::{ReadReceiptSettings, ServiceError};

use super::{Call, Reply, RestError};
use crate::webhook::{BeforeSendSettings, OnFailure};

/// Applies `Webhook.BeforeSendMsg` (fields left out keep their value).
fn before_send(section: &Value, hooks: &mut BeforeSendSettings) -> Result<(), String> {
    if !section.is_object() {
        return Err("Webhook.BeforeSendMsg must be an object".into());
    }
    let switch = |name: &str| match section.get(name) {
        None => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(_) => Err(format!("Webhook.BeforeSendMsg.{name} must be a boolean")),
    };
    if let Some(on) = switch("C2C")? {
        hooks.c2c = on;
    }
    if let Some(on) = switch("Group")? {
        hooks.group = on;
    }
    if let Some(timeout) = section.get("TimeoutMs") {
        hooks.timeout_ms = timeout
            .as_u64()
            .ok_or("Webhook.BeforeSendMsg.TimeoutMs must be a number of milliseconds")?;
    }
    if let Some(on_failure) = section.get("OnFailure") {
        hooks.on_failure = on_failure
            .as_str()
            .and_then(OnFailure::parse)
            .ok_or("Webhook.BeforeSendMsg.OnFailure must be \"allow\" or \"deny\"")?;
    }
    Ok(())
}

fn current(call: &Call<'_>) -> Map<String, Value> {
    let receipts = call.state.tidings.read_receipt_settings();
    let webhook = call.state.webhooks.settings();
    let types: Vec<&str> = receipts.group_types.iter().map(|t| t.as_str()).collect();
    match json!({
        "ReadReceipt": { "Enabled": receipts.enabled, "GroupTypes": types },
        "Webhook": {
            "Url": webhook.url,
            "Token": webhook.token,
            "BeforeSendMsg": {
                "C2C": webhook.before_send_msg.c2c,
                "Group": webhook.before_send_msg.group,
                "TimeoutMs": webhook.before_send_msg.timeout_ms,
                "OnFailure": webhook.before_send_msg.on_failure.as_str(),
            },
        },
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `tidings/get_settings`. (Async only to share the shape of every endpoint handler.)
pub(crate) async fn get(call: &Call<'_>) -> Reply {
    Ok(current(call))
}

/// `tidings/set_settings`: fields left out keep their value.
pub(crate) async fn set(call: &Call<'_>) -> Reply {
    let invalid = |info: String| RestError::new(call.invalid_code, info);
    let saved = &call.state.saved_settings;
    let _changing = saved.changing().await;
    let mut receipts = call.state.tidings.read_receipt_settings();
    if let Some(section) = call.body.get("ReadReceipt") {
        if let Some(enabled) = section.get("Enabled") {
            receipts.enabled = enabled
                .as_bool()
                .ok_or_else(|| invalid("ReadReceipt.Enabled must be a boolean".into()))?;
        }
        if let Some(types) = section.get("GroupTypes") {
            let names = types
                .as_array()
                .ok_or_else(|| invalid("ReadReceipt.GroupTypes must be an array".into()))?;
            receipts.group_types = names
                .iter()
                .map(|name| {
                    name.as_str()
                        .and_then(GroupType::parse)
                        .ok_or_else(|| invalid(format!("unknown group type {name}")))
                })
                .collect::<Result<_, _>>()?;
        }
    }
    ReadReceiptSettings::validate(&receipts).map_err(invalid)?;
    let mut webhook = call.state.webhooks.settings();
    if let Some(section) = call.body.get("Webhook") {
        let text = |name: &str| -> Result<Option<String>, RestError> {
            match section.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("Webhook.{name} must be a string"))),
            }
        };
        if let Some(url) = text("Url")? {
            webhook.url = url;
        }
        if let Some(token) = text("Token")? {
            webhook.token = token;
        }
        if let Some(hooks) = section.get("BeforeSendMsg") {
            before_send(hooks, &mut webhook.before_send_msg).map_err(invalid)?;
        }
    }
    webhook.validate().map_err(invalid)?;
    saved
        .save(call.state.tidings.store().as_ref(), &receipts, &webhook)
        .await
        .map_err(ServiceError::from)?;
    call.state.tidings.set_read_receipt_settings(receipts);
    call.state.webhooks.set_settings(webhook);
    if let Some(cluster) = &call.state.cluster {
        cluster.announce_settings_changed();
    }
    Ok(current(call))
}
