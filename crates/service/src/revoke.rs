//! Recalling messages: who may recall what and until when, and telling every party.

use tidings_proto::events::{MessageRevoked, OnRecvMessageRevoked};
use tidings_proto::methods::RevokeMessageParams;
use tidings_proto::{GroupRole, MAX_REVOKE_REASON_BYTES};
use tidings_store::{ConvKey, MessageRecord, Revocation};

use crate::checks::storable;
use crate::render::user_info;
use crate::{ConversationNote, ServiceError, ServiceResult, Tidings, now};

impl Tidings {
    /// Recalls a message for `user`: the sender of a C2C or group message within the time
    /// limit ([`crate::Limits::revoke_time_limit`]), or an owner or admin of the message's group
    /// at any time. Every party's sessions get `onRecvMessageRevoked`.
    pub async fn revoke_message(
        &self,
        user: &str,
        params: RevokeMessageParams,
    ) -> ServiceResult<()> {
        check_reason(&params.reason)?;
        let not_found = |group| ServiceError::RevokeMessageNotFound {
            msg_id: params.msg_id.clone(),
            group,
        };
        let record = self
            .store
            .get_messages(std::slice::from_ref(&params.msg_id))
            .await?
            .pop()
            .ok_or_else(|| not_found(false))?;
        let stored = &record.message;
        match &stored.group_id {
            None => {
                if stored.sender != user {
                    // The receiver learns that only the sender may; anyone else learns nothing.
                    return Err(if stored.receiver.as_deref() == Some(user) {
                        ServiceError::PermissionDenied(format!(
                            "only the sender of C2C message {} may recall it",
                            params.msg_id
                        ))
                    } else {
                        not_found(false)
                    });
                }
                self.check_revoke_time(&record, false)?;
            }
            Some(group_id) => {
                let member = self.store.get_member(group_id, user).await?;
                let manages = member.as_ref().is_some_and(|m| m.role != GroupRole::Member);
                if !manages {
                    if member.is_none() {
                        return Err(ServiceError::not_member(group_id, user));
                    }
                    if stored.sender != user {
                        return Err(ServiceError::PermissionDenied(format!(
                            "only the sender of message {} and the owner and admins of group {group_id} may recall it",
                            params.msg_id
                        )));
                    }
                    self.check_revoke_time(&record, true)?;
                }
            }
        }
        self.revoke(&params.msg_id, user, params.reason).await
    }

    /// The App administrator (`admin`) recalls the C2C message `msg_id` (REST `MsgKey`), which
    /// must be one `from` sent to `to`; at any time.
    pub async fn admin_revoke_c2c(
        &self,
        admin: &str,
        from: &str,
        to: &str,
        msg_id: &str,
    ) -> ServiceResult<()> {
        let found = self.store.get_messages(&[msg_id.to_owned()]).await?.pop();
        let matches = found.is_some_and(|r| {
            r.message.group_id.is_none()
                && r.message.sender == from
                && r.message.receiver.as_deref() == Some(to)
        });
        if !matches {
            return Err(ServiceError::RevokeMessageNotFound {
                msg_id: msg_id.to_owned(),
                group: false,
            });
        }
        self.revoke(msg_id, admin, String::new()).await
    }

    /// The App administrator recalls group messages by sequence, at any time: each one's
    /// outcome, in the order given.
    pub async fn admin_revoke_group(
        &self,
        admin: &str,
        group_id: &str,
        seqs: &[u64],
    ) -> ServiceResult<Vec<ServiceResult<()>>> {
        self.group_or_not_found(group_id).await?;
        let records = self
            .store
            .messages_by_seq(&ConvKey::Group(group_id.to_owned()), &storable(seqs))
            .await?;
        let mut outcomes = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let outcome = match records.iter().find(|r| r.seq == *seq) {
                Some(record) => {
                    self.revoke(&record.message.msg_id, admin, String::new())
                        .await
                }
                None => Err(ServiceError::RevokeMessageNotFound {
                    msg_id: format!("{group_id} #{seq}"),
                    group: true,
                }),
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// Refuses a sender's recall past the time limit.
    fn check_revoke_time(&self, record: &MessageRecord, group: bool) -> ServiceResult<()> {
        let limit_secs = self.limits.revoke_time_limit.as_secs();
        let age = now().saturating_sub(record.message.timestamp);
        if u64::try_from(age).unwrap_or(0) > limit_secs {
            return Err(ServiceError::RevokeTimeLimit {
                msg_id: record.message.msg_id.clone(),
                limit_secs,
                group,
            });
        }
        Ok(())
    }

    /// Records the recall and tells every party: the C2C pair, or the group's current members
    /// and the sender, on all their devices (the caller's included).
    async fn revoke(&self, msg_id: &str, by: &str, reason: String) -> ServiceResult<()> {
        let revocation = Revocation {
            by: by.to_owned(),
            at: now(),
            reason,
        };
        let (record, changed) = self
            .store
            .revoke_message(msg_id, revocation.clone())
            .await?
            .ok_or_else(|| ServiceError::RevokeMessageNotFound {
                msg_id: msg_id.to_owned(),
                group: false,
            })?;
        if !changed {
            return Err(ServiceError::MessageRevoked(msg_id.to_owned()));
        }
        // Receipt pushes whose counts were read before the recall go out before its push; later
        // ones leave the message out.
        self.notifier.fence().await;
        let stored = &record.message;
        let mut parties = match &stored.group_id {
            Some(group_id) => self.store.member_user_ids(group_id).await?,
            None => stored.receiver.iter().cloned().collect(),
        };
        parties.push(stored.sender.clone());
        // A targeted message's recall reaches only those who got it.
        parties.retain(|party| stored.visible_to(party));
        parties.sort_unstable();
        parties.dedup();
        let profile = self.store.get_users(&[by.to_owned()]).await?.pop();
        self.push::<OnRecvMessageRevoked>(
            parties,
            MessageRevoked {
                msg_id: msg_id.to_owned(),
                operate_user: user_info(by, profile.as_ref().map(|u| &u.profile)),
                reason: revocation.reason,
            },
        );
        // When the recalled message is a conversation's last, its parties see it recalled there.
        if record.seq != 0 {
            match (&stored.group_id, &stored.receiver) {
                (Some(group_id), _) => {
                    let last = self.store.get_group(group_id).await?.map(|g| g.last_seq);
                    if last == Some(record.seq) {
                        self.notifier.note_conversation(ConversationNote {
                            group_id: group_id.clone(),
                            sender: stored.sender.clone(),
                            unread: false,
                            only: if stored.targets.is_empty() {
                                Vec::new()
                            } else {
                                stored
                                    .targets
                                    .iter()
                                    .chain([&stored.sender])
                                    .cloned()
                                    .collect()
                            },
                        });
                    }
                }
                (None, Some(receiver)) => {
                    let sender = stored.sender.as_str();
                    let last = self.store.c2c_conversation(sender, receiver).await?;
                    if last.is_some_and(|c| c.last_seq == record.seq) {
                        self.publish_c2c_conversation(sender, receiver, false)
                            .await?;
                        if receiver != sender {
                            self.publish_c2c_conversation(receiver, sender, false)
                                .await?;
                        }
                    }
                }
                (None, None) => {}
            }
        }
        metrics::counter!("tidings_messages_revoked_total").increment(1);
        Ok(())
    }
}

fn check_reason(reason: &str) -> ServiceResult<()> {
    if reason.len() > MAX_REVOKE_REASON_BYTES {
        return Err(ServiceError::InvalidParameters(format!(
            "reason is {} bytes; the limit is {MAX_REVOKE_REASON_BYTES}",
            reason.len()
        )));
    }
    Ok(())
}
