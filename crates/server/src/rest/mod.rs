//! Tencent IM's v4 REST API at `POST /v4/<service>/<command>`: the common protocol (admin
//! UserSig in the query, JSON body whatever the Content-Type, always HTTP 200 with
//! `ActionStatus`/`ErrorCode`/`ErrorInfo`) and the endpoint table. Every endpoint calls the same
//! service methods as the WebSocket API.

mod accounts;
mod fields;
mod groups;
mod messages;
mod privacy;
mod profiles;
mod receipts;
mod settings;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use tidings_proto::ErrorCode;
use tidings_service::{Origin, ServiceError, with_origin};

use crate::error::WireError;
use crate::state::AppState;

/// Largest accepted request body.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A REST failure: Tencent's code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestError {
    pub code: u32,
    pub info: String,
}

impl RestError {
    pub(crate) fn new(code: u32, info: impl Into<String>) -> Self {
        Self {
            code,
            info: info.into(),
        }
    }

    /// V2TIM's client codes for a bad parameter or identifier (6017, 7003) are no REST codes:
    /// such refusals carry the service's own code for an invalid request instead.
    pub(crate) fn in_service(self, invalid_code: u32) -> Self {
        let client_codes = [ErrorCode::InvalidParameters, ErrorCode::InvalidIdentifier];
        if client_codes.iter().any(|c| c.as_u32() == self.code) {
            Self {
                code: invalid_code,
                ..self
            }
        } else {
            self
        }
    }
}

impl From<WireError> for RestError {
    fn from(error: WireError) -> Self {
        Self {
            code: error.code.as_u32(),
            info: error.desc,
        }
    }
}

impl From<ServiceError> for RestError {
    /// V2TIM's client code for a switched-off feature (7013) is no REST code: REST answers
    /// Tencent's "request disabled" instead.
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::ReceiptsNotSupported(info) => Self::new(codes::REQUEST_DISABLED, info),
            other => WireError::from(other).into(),
        }
    }
}

/// Fields of a successful reply besides the envelope.
pub(crate) type Reply = Result<Map<String, Value>, RestError>;

/// The fields of a JSON object (the reply fields an endpoint builds with `json!`).
pub(crate) fn fields(object: Value) -> Map<String, Value> {
    match object {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What every endpoint handler receives.
pub(crate) struct Call<'a> {
    pub state: &'a AppState,
    pub body: &'a Value,
    /// Code for a missing or invalid field in this service (Tencent's codes differ per service).
    pub invalid_code: u32,
}

/// Common REST codes (Tencent's table).
pub(crate) mod codes {
    /// The URL is malformed or misses a required query parameter.
    pub(crate) const BAD_URL: u32 = 60002;
    /// The body is not valid JSON.
    pub(crate) const BAD_JSON: u32 = 60003;
    /// The identifier is not an App administrator.
    pub(crate) const NOT_ADMIN: u32 = 60010;
    /// Request resource error (Tencent: "check the request URL"): an unknown command.
    pub(crate) const UNKNOWN_COMMAND: u32 = 60009;
    /// The request is disabled: a feature switched off on this server (read receipts).
    pub(crate) const REQUEST_DISABLED: u32 = 60017;
    /// `c2c_msg_read_receipt`: the request is invalid (its own code, from Tencent's page).
    pub(crate) const C2C_RECEIPT_INVALID: u32 = 20001;
    /// `c2c_msg_read_receipt`: an account is invalid or was never imported.
    pub(crate) const C2C_RECEIPT_ACCOUNT: u32 = 20003;
    /// openim: bad request body.
    pub(crate) const OPENIM_INVALID: u32 = 90001;
    /// openim: `To_Account` missing or not found.
    pub(crate) const OPENIM_TO_ACCOUNT: u32 = 90003;
    /// openim: `From_Account` missing or not found.
    pub(crate) const OPENIM_FROM_ACCOUNT: u32 = 90008;
    /// Account service: invalid parameter.
    pub(crate) const ACCOUNT_INVALID: u32 = 70402;
    /// Account does not exist.
    pub(crate) const ACCOUNT_NOT_FOUND: u32 = 70107;
    /// Profile service: invalid parameter.
    pub(crate) const PROFILE_INVALID: u32 = 40001;
    /// Group service: invalid parameter.
    pub(crate) const GROUP_INVALID: u32 = 10004;
}

/// `POST /v4/{service}/{command}`.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Path((service, command)): Path<(String, String)>,
    request: Request,
) -> Json<Value> {
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default();
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| form_pairs(q).collect())
        .unwrap_or_default();
    let endpoint = ROUTES
        .iter()
        .find(|(s, c, _)| *s == service && *c == command);
    let origin = Origin {
        client_ip,
        platform: "RESTAPI",
        operator: query.get("identifier").cloned(),
    };
    let reply = with_origin(origin, async {
        // From the query alone, before a byte of the body is read: a client without the
        // administrator's UserSig cannot make the server buffer a body for it.
        authenticate(&state, &query).await?;
        let invalid_code = match service.as_str() {
            "openim" => codes::OPENIM_INVALID,
            "group_open_http_svc" => codes::GROUP_INVALID,
            "im_open_login_svc" => codes::ACCOUNT_INVALID,
            "profile" => codes::PROFILE_INVALID,
            _ => codes::BAD_JSON,
        };
        let Some((_, _, handler)) = endpoint else {
            return Err(RestError::new(
                codes::UNKNOWN_COMMAND,
                format!("unknown command v4/{service}/{command}"),
            ));
        };
        let body_timeout = Duration::from_millis(state.limits.http_body_timeout_ms);
        let read = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES);
        let bytes = match tokio::time::timeout(body_timeout, read).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return Err(RestError::new(
                    invalid_code,
                    format!("body larger than {MAX_BODY_BYTES} bytes or cut short"),
                ));
            }
            Err(_) => {
                return Err(RestError::new(
                    invalid_code,
                    format!(
                        "body not received within {} ms",
                        state.limits.http_body_timeout_ms
                    ),
                ));
            }
        };
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| RestError::new(invalid_code, format!("body is not valid JSON: {e}")))?;
        if !body.is_object() {
            return Err(RestError::new(invalid_code, "body must be a JSON object"));
        }
        let call = Call {
            state: &state,
            body: &body,
            invalid_code,
        };
        handler(&call).await.map_err(|e| e.in_service(invalid_code))
    })
    .await;
    let code = reply.as_ref().map_or_else(|e| e.code, |_| 0);
    // Labelled by known endpoints only: a label per URL would let anyone add metric series.
    let label = endpoint.map_or_else(|| "unknown".to_owned(), |(s, c, _)| format!("{s}/{c}"));
    metrics::counter!("tidings_rest_requests_total", "command" => label, "code" => code.to_string())
        .increment(1);
    Json(envelope(reply))
}

/// An endpoint's handler. Its future borrows the call.
type Handler = for<'a> fn(&'a Call<'a>) -> BoxFuture<'a, Reply>;

/// A [`ROUTES`] entry: `/v4/<service>/<command>` runs `handler`, an
/// `async fn(&Call<'_>) -> Reply`.
macro_rules! route {
    ($service:literal, $command:literal, $handler:path) => {
        ($service, $command, |call| Box::pin($handler(call)))
    };
}

/// Every endpoint, as `(service, command, handler)` of `/v4/<service>/<command>`: requests are
/// routed and counted by it, and a test compares it with `docs/openapi.json`.
#[rustfmt::skip] // a table, one endpoint a line
const ROUTES: &[(&str, &str, Handler)] = &[
    route!("im_open_login_svc",   "account_import",               accounts::import),
    route!("im_open_login_svc",   "multiaccount_import",          accounts::import_many),
    route!("im_open_login_svc",   "account_check",                accounts::check),
    route!("im_open_login_svc",   "account_delete",               accounts::delete),
    route!("im_open_login_svc",   "kick",                         accounts::kick),
    route!("openim",              "query_online_status",          accounts::online_status),
    route!("openim",              "sendmsg",                      messages::send_c2c),
    route!("openim",              "batchsendmsg",                 messages::send_batch),
    route!("openim",              "admin_getroammsg",             messages::roam),
    route!("group_open_http_svc", "send_group_msg",               messages::send_group),
    route!("group_open_http_svc", "group_msg_get_simple",         messages::group_history),
    route!("openim",              "admin_msgwithdraw",            messages::withdraw_c2c),
    route!("group_open_http_svc", "group_msg_recall",             messages::recall_group),
    route!("group_open_http_svc", "create_group",                 groups::create),
    route!("group_open_http_svc", "get_group_info",               groups::info),
    route!("group_open_http_svc", "get_group_member_info",        groups::members),
    route!("group_open_http_svc", "add_group_member",             groups::add_members),
    route!("group_open_http_svc", "delete_group_member",          groups::delete_members),
    route!("group_open_http_svc", "destroy_group",                groups::destroy),
    route!("group_open_http_svc", "get_joined_group_list",        groups::joined),
    route!("group_open_http_svc", "get_appid_group_list",         groups::all),
    route!("openim",              "admin_set_msg_read",           receipts::set_c2c_read),
    route!("openim",              "get_c2c_unread_msg_num",       receipts::c2c_unread),
    route!("openim",              "c2c_msg_read_receipt",         receipts::c2c_receipt),
    route!("group_open_http_svc", "group_msg_receipt",            receipts::group_receipt),
    route!("group_open_http_svc", "get_group_msg_receipt",        receipts::group_counts),
    route!("group_open_http_svc", "get_group_msg_receipt_detail", receipts::group_detail),
    route!("group_open_http_svc", "set_unread_msg_num",           receipts::set_group_unread),
    route!("profile",             "portrait_set",                 profiles::set),
    route!("profile",             "portrait_get",                 profiles::get),
    route!("group_open_http_svc", "modify_group_member_info",     profiles::modify_member),
    route!("tidings",             "get_settings",                 settings::get),
    route!("tidings",             "set_settings",                 settings::set),
    route!("tidings",             "get_receipt_privacy",          privacy::get),
    route!("tidings",             "set_receipt_privacy",          privacy::set),
];

/// Checks `sdkappid`, `identifier` (must be the admin) and its `usersig`, which must not be
/// one the administrator's own UserSigs revoked (`kick` of the administrator: a leaked one).
async fn authenticate(state: &AppState, query: &HashMap<String, String>) -> Result<(), RestError> {
    let param = |name: &str| {
        query.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            RestError::new(
                codes::BAD_URL,
                format!("the URL lacks the {name} query parameter"),
            )
        })
    };
    let sdkappid = param("sdkappid")?;
    let identifier = param("identifier")?;
    let user_sig = query.get("usersig").map(String::as_str).unwrap_or_default();
    if sdkappid.parse::<u64>().ok() != Some(state.auth.sdkappid) {
        return Err(WireError::new(
            ErrorCode::UserSigSdkAppIdMismatch,
            format!("sdkappid {sdkappid} is not this server's"),
        )
        .into());
    }
    let verified = state.auth.verify(identifier, user_sig)?;
    if identifier != &state.auth.admin {
        return Err(RestError::new(
            codes::NOT_ADMIN,
            format!("{identifier} is not the App administrator"),
        ));
    }
    state
        .tidings
        .check_user_sig_issued(identifier, verified.issued_at)
        .await?;
    Ok(())
}

/// Decodes `application/x-www-form-urlencoded` pairs (query strings).
fn form_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key), percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (other, _, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn envelope(reply: Reply) -> Value {
    match reply {
        Ok(mut fields) => {
            let mut out = Map::new();
            out.insert("ActionStatus".into(), json!("OK"));
            out.insert("ErrorCode".into(), json!(0));
            out.insert("ErrorInfo".into(), json!(""));
            out.append(&mut fields);
            Value::Object(out)
        }
        Err(error) => {
            json!({ "ActionStatus": "FAIL", "ErrorCode": error.code, "ErrorInfo": error.info })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_openapi_description_lists_exactly_the_routed_endpoints() {
        let spec: Value =
            serde_json::from_str(include_str!("../../../../docs/openapi.json")).unwrap();
        let documented: BTreeSet<String> = spec["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(|path| path.trim_start_matches("/v4/").to_owned())
            .collect();
        let routed: BTreeSet<String> = ROUTES
            .iter()
            .map(|(service, command, _)| format!("{service}/{command}"))
            .collect();
        assert_eq!(routed.len(), ROUTES.len(), "an endpoint is routed twice");
        assert_eq!(documented, routed);
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        let pairs: HashMap<String, String> =
            form_pairs("usersig=a%2Bb*c-_&x=1+2&bad=%zz&end=%4").collect();
        assert_eq!(pairs["usersig"], "a+b*c-_");
        assert_eq!(pairs["x"], "1 2");
        assert_eq!(pairs["bad"], "%zz");
        assert_eq!(pairs["end"], "%4");
    }
}
