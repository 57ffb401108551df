//! The web chat at `/` (static files built into the binary) and demo mode: `POST /demo/usersig`
//! and the demo users and group seeded at start.
//!
//! The page (`web/index.html`, `web/style.css` and the ES modules in `web/js/`, one job each) is
//! plain JavaScript without a build step or dependencies and speaks only the documented
//! WebSocket protocol at `/ws`. Demo mode exists so that a
//! newcomer can try the server without making UserSigs: the endpoint signs one for any user, so
//! it is off unless `demo` is set, and then answers 404 like any unknown path. On, it signs at a
//! bounded rate, and (unless `demo_public`) only requests whose `Host` is `localhost` or an IP
//! address, so that a web page on a rebound domain cannot get UserSigs from a local server.

use std::net::IpAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tidings_proto::methods::CreateGroupParams;
use tidings_proto::{GroupMemberSpec, GroupRole};
use tidings_service::{ServiceError, ServiceResult};
use tidings_store::UserCard;

use crate::state::AppState;

const INDEX_HTML: &str = include_str!("../../../web/index.html");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

/// The page's script modules, served at `/js/<name>`.
pub(crate) const SCRIPTS: &[(&str, &str)] = &[
    ("attention.js", include_str!("../../../web/js/attention.js")),
    ("banners.js", include_str!("../../../web/js/banners.js")),
    ("chat.js", include_str!("../../../web/js/chat.js")),
    (
        "connection.js",
        include_str!("../../../web/js/connection.js"),
    ),
    ("content.js", include_str!("../../../web/js/content.js")),
    (
        "conversations.js",
        include_str!("../../../web/js/conversations.js"),
    ),
    ("dom.js", include_str!("../../../web/js/dom.js")),
    ("main.js", include_str!("../../../web/js/main.js")),
    ("members.js", include_str!("../../../web/js/members.js")),
    ("ordering.js", include_str!("../../../web/js/ordering.js")),
    ("people.js", include_str!("../../../web/js/people.js")),
    ("profile.js", include_str!("../../../web/js/profile.js")),
    ("receipts.js", include_str!("../../../web/js/receipts.js")),
    ("session.js", include_str!("../../../web/js/session.js")),
    ("signin.js", include_str!("../../../web/js/signin.js")),
    ("time.js", include_str!("../../../web/js/time.js")),
];

/// The demo users (user ID, nickname) seeded in demo mode; the first owns the demo group.
pub const DEMO_USERS: [(&str, &str); 4] = [
    ("alice", "Alice"),
    ("bob", "Bob"),
    ("carol", "Carol"),
    ("dave", "Dave"),
];

/// The ID of the Work group seeded in demo mode, holding every demo user.
pub const DEMO_GROUP: &str = "demo";

/// The demo group's name, as the page and the banner show it.
pub const DEMO_GROUP_NAME: &str = "Demo group";

/// The page's marker of demo mode, switched on when serving it in demo mode.
const DEMO_OFF: &str = "data-demo=\"off\"";

/// Longest lifetime of a demo UserSig: one day.
const DEMO_SIG_MAX_SECS: u64 = 86_400;
/// Whether a `Host` header names this machine in a way DNS rebinding cannot forge: `localhost`
/// or an IP literal. A page on a rebound domain sends that domain as its `Host`.
fn is_local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

/// The page's routes: `/`, `/style.css`, `/js/<module>` and `POST /demo/usersig`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/style.css", get(style_css))
        .route("/js/{name}", get(script))
        .route("/demo/usersig", post(demo_usersig))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The files change with the binary: always revalidate.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The page; in demo mode marked `data-demo="on"`, so that it offers demo sign-in instead of
/// asking for a UserSig.
async fn index(State(state): State<AppState>) -> Response {
    if state.demo.is_some() {
        let page = INDEX_HTML.replacen(DEMO_OFF, "data-demo=\"on\"", 1);
        return (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            page,
        )
            .into_response();
    }
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(file, _)| *file == name) {
        Some((_, body)) => asset("text/javascript; charset=utf-8", body),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

#[derive(Debug, Deserialize)]
struct DemoSigRequest {
    #[serde(rename = "userID")]
    user_id: String,
    /// Lifetime in seconds (default and maximum one day); short ones let the page show expiry.
    #[serde(default)]
    expire: Option<u64>,
}

fn refuse(status: StatusCode, desc: impl Into<String>) -> Response {
    (status, Json(json!({ "error": desc.into() }))).into_response()
}

/// `POST /demo/usersig` `{"userID": "alice"}` → `{"userID", "userSig", "sdkAppID"}`; 404 unless
/// demo mode is on. The body is read only after that check, so without demo mode every request
/// gets the same 404.
async fn demo_usersig(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(demo) = &state.demo else {
        return refuse(
            StatusCode::NOT_FOUND,
            "not found: demo mode is off (start the server with --demo)",
        );
    };
    if !demo.public && !is_local_host(&headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "demo mode signs only requests addressed to localhost or an IP address",
        );
    }
    if !demo.try_take() {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many demo UserSigs; try again in a moment",
        );
    }
    let request: DemoSigRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"userID\": \"...\"}}: {e}"),
            );
        }
    };
    if !tidings_proto::is_valid_id(&request.user_id) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "invalid userID {:?}: use 1 to 32 printable ASCII characters without spaces",
                request.user_id
            ),
        );
    }
    if request.user_id == state.auth.admin {
        return refuse(
            StatusCode::FORBIDDEN,
            "demo mode does not sign UserSigs for the App administrator",
        );
    }
    let expire = request
        .expire
        .unwrap_or(DEMO_SIG_MAX_SECS)
        .clamp(1, DEMO_SIG_MAX_SECS);
    let user_sig = state.auth.sign(&request.user_id, expire);
    Json(json!({ "userID": request.user_id, "userSig": user_sig, "sdkAppID": state.auth.sdkappid }))
        .into_response()
}

/// Creates the demo users (with nicknames) and the Work group [`DEMO_GROUP`] owned by the first
/// of them and holding all of them. Idempotent: on a restart, existing users keep their data,
/// and demo users missing from the existing group are added back.
pub async fn seed_demo(state: &AppState) -> ServiceResult<()> {
    let tidings = &state.tidings;
    for (user_id, nick) in DEMO_USERS {
        tidings.login(user_id).await?;
        // A nickname the user chose since (setSelfInfo) is kept.
        let known = tidings.store().get_users(&[user_id.to_owned()]).await?;
        if known.iter().all(|user| user.profile.nick.is_empty()) {
            let card = UserCard {
                nick: nick.to_owned(),
                face_url: String::new(),
            };
            tidings
                .store()
                .ensure_user(user_id, Some(card), tidings_service::now())
                .await?;
        }
    }
    let owner = DEMO_USERS[0].0;
    let others: Vec<String> = DEMO_USERS[1..]
        .iter()
        .map(|(user_id, _)| (*user_id).to_owned())
        .collect();
    let params = CreateGroupParams {
        group_type: "Work".into(),
        group_id: Some(DEMO_GROUP.into()),
        group_name: DEMO_GROUP_NAME.into(),
        member_list: others
            .iter()
            .map(|user_id| GroupMemberSpec {
                user_id: user_id.clone(),
                role: GroupRole::Member,
            })
            .collect(),
    };
    match tidings.create_group(owner, params).await {
        Ok(_) => Ok(()),
        Err(ServiceError::GroupIdInUse(_)) => {
            let Some(group) = tidings.store().get_group(DEMO_GROUP).await? else {
                return Ok(());
            };
            tidings.add_to_group(&group, owner, &others).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}
