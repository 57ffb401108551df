//! Private read receipts (a Tidings extension, like Matrix's private read receipts): the
//! per-user switch. The rules live where receipts are recorded: the store reads the switch in
//! the same transaction as each receipt or C2C read it records, so every node of a cluster
//! applies it from the moment it is committed.

use crate::checks::check_id;
use crate::{ServiceError, ServiceResult, Tidings};

impl Tidings {
    /// Sets whether `user` keeps read receipts private. While on, the user's message-level
    /// receipts are checked as usual and recorded for nobody (no sender's counts, member lists,
    /// `receiptPeerRead` or receipt pushes show them), and the user's C2C conversation-level
    /// reads move the user's own unread state but not what the peer is shown (`isPeerRead`,
    /// `onRecvC2CReadReceipt`). Turning it off reveals nothing given meanwhile: only later
    /// receipts and reads show.
    pub async fn set_receipt_privacy(&self, user: &str, private: bool) -> ServiceResult<()> {
        check_id(user)?;
        if !self.store.set_private_receipts(user, private).await? {
            return Err(ServiceError::UserNotFound(user.to_owned()));
        }
        Ok(())
    }

    /// Whether `user` keeps read receipts private.
    pub async fn receipt_privacy(&self, user: &str) -> ServiceResult<bool> {
        check_id(user)?;
        self.store
            .private_receipts(user)
            .await?
            .ok_or_else(|| ServiceError::UserNotFound(user.to_owned()))
    }
}
