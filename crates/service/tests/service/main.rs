//! The service's rules, tested where they live: each test runs a `Tidings` on a temporary
//! store, with a bus and a callbacks sink that record what it publishes (`harness.rs`). One
//! module per area.

mod admin;
mod conversations;
mod groups;
mod harness;
mod messages;
mod moderation;
mod notifier;
mod privacy;
mod profiles;
mod receipts;
mod revoke;
mod status;
mod targeted;
