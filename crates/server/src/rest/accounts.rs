//! Account endpoints: import, check, delete, kick, online status.

use serde_json::{Map, Value, json};
use tidings_store::UserCard;

use super::{Call, Reply, RestError, codes, fields};

/// `im_open_login_svc/account_import`.
pub(crate) async fn import(call: &Call<'_>) -> Reply {
    let user = call.string_of(&["UserID", "Identifier"])?;
    let profile = UserCard {
        nick: call.opt_string("Nick")?.unwrap_or_default(),
        face_url: call.opt_string("FaceUrl")?.unwrap_or_default(),
    };
    call.state.tidings.import_account(&user, profile).await?;
    Ok(Map::new())
}

/// `im_open_login_svc/multiaccount_import`.
pub(crate) async fn import_many(call: &Call<'_>) -> Reply {
    let users = call.strings("Accounts", 100)?;
    let mut failed = Vec::new();
    for user in users {
        if call
            .state
            .tidings
            .import_account(&user, UserCard::default())
            .await
            .is_err()
        {
            failed.push(user);
        }
    }
    Ok(fields(json!({ "FailAccounts": failed })))
}

/// `im_open_login_svc/account_check`.
pub(crate) async fn check(call: &Call<'_>) -> Reply {
    let users = call.object_strings("CheckItem", "UserID", 100)?;
    let exists = call.state.tidings.accounts_exist(&users).await?;
    let items: Vec<Value> = users
        .iter()
        .zip(exists)
        .map(|(user, exists)| {
            json!({ "UserID": user, "ResultCode": 0, "ResultInfo": "",
                    "AccountStatus": if exists { "Imported" } else { "NotImported" } })
        })
        .collect();
    Ok(fields(json!({ "ResultItem": items })))
}

/// `im_open_login_svc/account_delete`.
pub(crate) async fn delete(call: &Call<'_>) -> Reply {
    let users = call.object_strings("DeleteItem", "UserID", 100)?;
    let deleted = call.state.tidings.delete_accounts(&users).await?;
    let items: Vec<Value> = users
        .iter()
        .zip(deleted)
        .map(|(user, deleted)| {
            let (code, info) = if deleted {
                (0, "")
            } else {
                (codes::ACCOUNT_NOT_FOUND, "account does not exist")
            };
            json!({ "UserID": user, "ResultCode": code, "ResultInfo": info })
        })
        .collect();
    Ok(fields(json!({ "ResultItem": items })))
}

/// `im_open_login_svc/kick`.
pub(crate) async fn kick(call: &Call<'_>) -> Reply {
    let user = call.string_of(&["UserID", "Identifier"])?;
    call.state.tidings.invalidate_login(&user).await?;
    Ok(Map::new())
}

/// `openim/query_online_status`: sessions on any node of the cluster.
pub(crate) async fn online_status(call: &Call<'_>) -> Reply {
    let users = call
        .strings("To_Account", 500)
        .map_err(|e| RestError::new(codes::OPENIM_TO_ACCOUNT, e.info))?;
    // The bus asks every node, as getUserStatus does.
    let online = call.state.tidings.online(&users).await;
    let results: Vec<Value> = users
        .iter()
        .zip(online)
        .map(|(user, online)| {
            let status = if online { "Online" } else { "Offline" };
            json!({ "To_Account": user, "Status": status })
        })
        .collect();
    Ok(fields(json!({ "QueryResult": results, "ErrorList": [] })))
}
