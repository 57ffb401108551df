//! Private read receipts, a Tidings extension with no Tencent endpoint: the App administrator
//! reads and sets a user's switch (`v4/tidings/get_receipt_privacy`,
//! `v4/tidings/set_receipt_privacy`), as the user does with `getReceiptPrivacy` and
//! `setReceiptPrivacy`.

use serde_json::{Map, Value, json};

use super::{Call, Reply, RestError, fields};

/// `tidings/get_receipt_privacy`: `From_Account`'s switch.
pub(crate) async fn get(call: &Call<'_>) -> Reply {
    let user = call.string("From_Account")?;
    let private = call.state.tidings.receipt_privacy(&user).await?;
    Ok(fields(
        json!({ "From_Account": user, "PrivateReadReceipts": private }),
    ))
}

/// `tidings/set_receipt_privacy`: sets `From_Account`'s switch to `PrivateReadReceipts`.
pub(crate) async fn set(call: &Call<'_>) -> Reply {
    let user = call.string("From_Account")?;
    let private = match call.body.get("PrivateReadReceipts") {
        Some(Value::Bool(private)) => *private,
        _ => {
            return Err(RestError::new(
                call.invalid_code,
                "PrivateReadReceipts must be a boolean",
            ));
        }
    };
    call.state
        .tidings
        .set_receipt_privacy(&user, private)
        .await?;
    Ok(Map::new())
}
