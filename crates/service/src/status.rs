//! Online status (V2TIM's user status): subscriptions to other users' status, the user's
//! custom status, and `onUserStatusChanged` when a user goes online or offline anywhere in the
//! cluster or changes its custom status.
//!
//! A user is online while it has a session on some node. Each node's [`Hub`] tells when a
//! user's first session there logs in or its last one ends; [`Tidings::watch_presence`] turns
//! that into a change of the user's status for the whole cluster, asking the other nodes
//! through the bus: a first session here is the user going online when no other node holds an
//! older session (so of two nodes where the user logs in at once, the one with the older
//! session announces it), a last session here ending is the user going offline when no other
//! node holds one. Going offline clears the custom status. Subscriptions are per user and kept
//! in the store until unsubscribed, so a change is delivered to every subscriber's sessions on
//! any node, one push shared by all of them.

use std::collections::HashSet;
use std::sync::Arc;

use tidings_proto::events::OnUserStatusChanged;
use tidings_proto::{
    MAX_CUSTOM_STATUS_BYTES, MAX_STATUS_QUERY, MAX_STATUS_SUBSCRIPTIONS, MAX_STATUS_USERS_PER_CALL,
    USER_STATUS_OFFLINE, USER_STATUS_ONLINE, UserStatus,
};

use crate::checks::check_id;
use crate::{Hub, PresenceChange, ServiceError, ServiceResult, SessionId, Tidings};

/// Refuses a list of users that is empty (unless `empty_ok`), longer than `max`, or names an
/// invalid ID; the list without repeats, in first-named order.
fn check_users(users: Vec<String>, max: usize, empty_ok: bool) -> ServiceResult<Vec<String>> {
    if users.is_empty() && !empty_ok {
        return Err(ServiceError::InvalidParameters(
            "userIDList must name at least one user".into(),
        ));
    }
    if users.len() > max {
        return Err(ServiceError::InvalidParameters(format!(
            "userIDList names {} users; the limit is {max}",
            users.len()
        )));
    }
    let mut seen = HashSet::with_capacity(users.len());
    let mut unique = Vec::with_capacity(users.len());
    for user in users {
        check_id(&user)?;
        if seen.insert(user.clone()) {
            unique.push(user);
        }
    }
    Ok(unique)
}

/// Unix nanoseconds now: the rank of a new subscription.
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

impl Tidings {
    /// Subscribes `user` to the status of `targets` (at most
    /// [`MAX_STATUS_USERS_PER_CALL`], not the user itself). A user keeps at most
    /// [`MAX_STATUS_SUBSCRIPTIONS`]: beyond that the earliest subscribed are dropped, as
    /// Tencent does.
    pub async fn subscribe_user_status(
        &self,
        user: &str,
        targets: Vec<String>,
    ) -> ServiceResult<()> {
        let targets = check_users(targets, MAX_STATUS_USERS_PER_CALL, false)?;
        if targets.iter().any(|target| target == user) {
            return Err(ServiceError::InvalidParameters(
                "a user cannot subscribe to its own status; its own changes come anyway".into(),
            ));
        }
        self.store
            .subscribe_user_status(user, &targets, now_nanos(), MAX_STATUS_SUBSCRIPTIONS)
            .await?;
        Ok(())
    }

    /// Ends `user`'s subscriptions to `targets` (at most [`MAX_STATUS_USERS_PER_CALL`]), or all
    /// of them when `targets` is empty.
    pub async fn unsubscribe_user_status(
        &self,
        user: &str,
        targets: Vec<String>,
    ) -> ServiceResult<()> {
        let targets = check_users(targets, MAX_STATUS_USERS_PER_CALL, true)?;
        self.store.unsubscribe_user_status(user, &targets).await?;
        Ok(())
    }

    /// The users `user` is subscribed to, the earliest subscribed first.
    pub async fn status_subscriptions(&self, user: &str) -> ServiceResult<Vec<String>> {
        Ok(self.store.status_subscriptions(user).await?)
    }

    /// The status of each of `users` (at most [`MAX_STATUS_QUERY`]), in the order named:
    /// online when it has a session on any node, with its custom status.
    pub async fn get_user_status(&self, users: Vec<String>) -> ServiceResult<Vec<UserStatus>> {
        let users = check_users(users, MAX_STATUS_QUERY, false)?;
        let online = self.bus.online(&users).await;
        let custom = self.store.custom_statuses(&users).await?;
        Ok(users
            .into_iter()
            .zip(online)
            .zip(custom)
            .map(|((user_id, online), custom_status)| UserStatus {
                user_id,
                status_type: if online {
                    USER_STATUS_ONLINE
                } else {
                    USER_STATUS_OFFLINE
                },
                custom_status: if online { custom_status } else { String::new() },
            })
            .collect())
    }

    /// Whether each of `users` has a session on any node (REST `query_online_status`).
    pub async fn online(&self, users: &[String]) -> Vec<bool> {
        self.bus.online(users).await
    }

    /// Sets `user`'s custom status (at most [`MAX_CUSTOM_STATUS_BYTES`]; empty clears it). When
    /// it changed, the user's subscribers and its other sessions (all but `session`) get
    /// `onUserStatusChanged`.
    pub async fn set_self_status(
        &self,
        user: &str,
        session: Option<SessionId>,
        custom_status: String,
    ) -> ServiceResult<()> {
        if custom_status.len() > MAX_CUSTOM_STATUS_BYTES {
            return Err(ServiceError::InvalidParameters(format!(
                "customStatus is {} bytes; the limit is {MAX_CUSTOM_STATUS_BYTES}",
                custom_status.len()
            )));
        }
        if !self.store.set_custom_status(user, &custom_status).await? {
            return Ok(());
        }
        let mut recipients = self.store.status_subscribers(user).await?;
        recipients.push(user.to_owned());
        let status = UserStatus {
            user_id: user.to_owned(),
            status_type: USER_STATUS_ONLINE,
            custom_status,
        };
        self.push_except::<OnUserStatusChanged>(recipients, vec![status], session);
        Ok(())
    }

    /// Follows the presence changes of `hub`'s users for as long as this service lives, and
    /// tells their subscribers when a user goes online or offline (see the module's doc).
    /// Call once per hub; later calls do nothing.
    pub fn watch_presence(self: &Arc<Self>, hub: Arc<Hub>) {
        let Some(mut changes) = hub.watch_presence() else {
            return;
        };
        let tidings = Arc::downgrade(self);
        tokio::spawn(async move {
            // Users this node announced online and has not announced offline since.
            let mut announced = HashSet::new();
            while let Some(change) = changes.recv().await {
                let Some(tidings) = tidings.upgrade() else {
                    break;
                };
                if let Err(error) = tidings.presence_changed(&hub, &mut announced, change).await {
                    tracing::warn!(%error, "a status change was not announced");
                }
            }
        });
    }

    /// One presence change of this node: announces the user's new status when it is one for
    /// the cluster.
    async fn presence_changed(
        &self,
        hub: &Hub,
        announced: &mut HashSet<String>,
        change: PresenceChange,
    ) -> ServiceResult<()> {
        let user = change.user;
        let status_type = match change.online_since {
            Some(since) => {
                if announced.contains(&user) {
                    return Ok(()); // online still: its going offline was not announced
                }
                let elsewhere = self.bus.sessions_elsewhere(&user).await;
                if elsewhere.iter().any(|at| *at < since) {
                    return Ok(()); // the node of the older session announced it
                }
                announced.insert(user.clone());
                USER_STATUS_ONLINE
            }
            None => {
                if hub.is_online(&user) {
                    return Ok(()); // back already; the online change follows
                }
                announced.remove(&user);
                if !self.bus.sessions_elsewhere(&user).await.is_empty() {
                    return Ok(()); // still online on another node
                }
                self.store.set_custom_status(&user, "").await?;
                USER_STATUS_OFFLINE
            }
        };
        let subscribers = self.store.status_subscribers(&user).await?;
        if subscribers.is_empty() {
            return Ok(());
        }
        let custom_status = match status_type {
            USER_STATUS_ONLINE => self
                .store
                .custom_statuses(std::slice::from_ref(&user))
                .await?
                .pop()
                .unwrap_or_default(),
            _ => String::new(),
        };
        let status = UserStatus {
            user_id: user,
            status_type,
            custom_status,
        };
        self.push::<OnUserStatusChanged>(subscribers, vec![status]);
        Ok(())
    }
}
