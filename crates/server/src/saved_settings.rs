//! Runtime settings (read receipts, webhook) saved with the data, so that a change made over
//! REST survives a restart, and the rule that chooses between them and the config file.
//!
//! Each section is saved with the config file's value of that moment. At start a saved section
//! wins while the file still says what it said then; once the file says something else, the
//! operator edited it since, and the file wins. So the newer change wins, made over REST or in
//! the file, and a file nobody touched never undoes a REST change.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tidings_service::ReadReceiptSettings;
use tidings_store::{Store, StoreResult};
use tokio::sync::{Mutex, MutexGuard};

use crate::webhook::WebhookSettings;

/// Stored names of the sections.
const READ_RECEIPTS: &str = "read_receipts";
const WEBHOOK: &str = "webhook";

/// A saved section: its value and the config file's value when it was saved.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved<T> {
    value: T,
    file: T,
}

/// The config file's settings, which saved ones are compared with and saved beside.
#[derive(Debug)]
pub struct SavedSettings {
    file_receipts: ReadReceiptSettings,
    file_webhook: WebhookSettings,
    /// Held from reading the settings in force to applying the changed ones, so that two
    /// concurrent changes are saved and applied in the same order.
    changing: Mutex<()>,
}

impl SavedSettings {
    /// Reads the saved settings and returns, with the file's, the read-receipt and webhook
    /// settings to start with (see the module's rule).
    pub(crate) async fn load(
        store: &dyn Store,
        file_receipts: ReadReceiptSettings,
        file_webhook: WebhookSettings,
    ) -> StoreResult<(Self, ReadReceiptSettings, WebhookSettings)> {
        let this = Self {
            file_receipts,
            file_webhook,
            changing: Mutex::new(()),
        };
        let (receipts, webhook) = this.in_force(store).await?;
        Ok((this, receipts, webhook))
    }

    /// The settings in force by the saved ones and the file's (see the module's rule): what
    /// another node of a cluster saved, once it says so.
    pub(crate) async fn in_force(
        &self,
        store: &dyn Store,
    ) -> StoreResult<(ReadReceiptSettings, WebhookSettings)> {
        let (file_receipts, file_webhook) = (&self.file_receipts, &self.file_webhook);
        let stored = store.settings().await?;
        let saved = |name: &str| {
            stored
                .iter()
                .find(|(stored_name, _)| stored_name == name)
                .map(|(_, value)| value.as_str())
        };
        let receipts = choose(
            READ_RECEIPTS,
            saved(READ_RECEIPTS),
            file_receipts,
            ReadReceiptSettings::validate,
        );
        let webhook = choose(
            WEBHOOK,
            saved(WEBHOOK),
            file_webhook,
            WebhookSettings::validate,
        );
        Ok((receipts, webhook))
    }

    /// Taken by a change for its whole course: read, save, apply.
    pub(crate) async fn changing(&self) -> MutexGuard<'_, ()> {
        self.changing.lock().await
    }

    /// Saves both sections (durably, in one transaction) beside the file's values.
    pub(crate) async fn save(
        &self,
        store: &dyn Store,
        receipts: &ReadReceiptSettings,
        webhook: &WebhookSettings,
    ) -> StoreResult<()> {
        store
            .put_settings(&[
                (
                    READ_RECEIPTS.to_owned(),
                    encode(receipts, &self.file_receipts),
                ),
                (WEBHOOK.to_owned(), encode(webhook, &self.file_webhook)),
            ])
            .await
    }
}

fn encode<T: Serialize>(value: &T, file: &T) -> String {
    json!({ "value": value, "file": file }).to_string()
}

/// The saved value while the file still says what it said when it was saved and the value is
/// still valid; the file's otherwise.
fn choose<T: Clone + PartialEq + DeserializeOwned>(
    name: &str,
    saved: Option<&str>,
    file: &T,
    validate: fn(&T) -> Result<(), String>,
) -> T {
    let Some(text) = saved else {
        return file.clone();
    };
    match serde_json::from_str::<Saved<T>>(text) {
        Ok(saved) if saved.file != *file => {
            tracing::info!(
                setting = name,
                "the config file changed since this setting was changed over REST: using the file's"
            );
            file.clone()
        }
        Ok(saved) => match validate(&saved.value) {
            Ok(()) => {
                if saved.value != *file {
                    tracing::info!(
                        setting = name,
                        "using the value set over REST, not the config file's"
                    );
                }
                saved.value
            }
            Err(e) => {
                tracing::warn!(setting = name, error = %e, "the saved setting is no longer valid: using the config file's");
                file.clone()
            }
        },
        Err(e) => {
            tracing::warn!(setting = name, error = %e, "the saved setting cannot be read: using the config file's");
            file.clone()
        }
    }
}
