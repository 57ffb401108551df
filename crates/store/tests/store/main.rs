//! Store tests: one conformance suite that runs every case unchanged against each engine, and
//! the tests of one engine's own machinery apart from it.
//!
//! PostgreSQL cases create a database of their own on the server `TIDINGS_TEST_PG` names
//! (default: the development machine's `postgres://postgres@127.0.0.1:5432/postgres`).

// The cases are test bodies that the generated `#[tokio::test]` functions call, so they may
// fail the way test functions do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod engine;
mod fixtures;
mod model;
mod postgres_engine;
mod sqlite_engine;

/// Runs each named case of [`cases`] as one test per engine: `sqlite::NAME` and
/// `postgres::NAME`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::cases::$case(crate::engine::TestEngine::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::cases::$case(crate::engine::TestEngine::postgres().await).await;
                }
            )*
        }
    };
}

conformance!(
    concurrent_group_sends_get_gapless_sequences,
    a_failed_write_in_a_batch_leaves_the_others_committed,
    duplicate_group_ids_conflict,
    ordinals_survive_leaving_and_rejoining,
    receipt_recipients_are_the_members_at_send_time_minus_the_sender,
    group_receipts_count_each_reader_once,
    c2c_sequences_unread_and_read_positions,
    everything_acknowledged_is_there_after_reopening,
    deleting_a_group_removes_its_messages_and_members,
    concurrent_receipts_on_the_same_messages_all_count_once,
    a_refused_receipt_records_nothing_even_in_a_shared_batch,
    a_receipt_is_refused_to_non_members_and_for_other_groups_messages,
    a_deleted_groups_messages_take_no_receipts_even_when_the_group_is_recreated,
    receipt_state_held_by_the_writer_is_what_a_reopened_store_reads,
    a_message_every_recipient_read_is_stored_compactly,
    counts_read_while_receipts_are_folded_never_go_down,
    read_state_matches_a_model_of_sends_receipts_joins_and_leaves,
    settings_are_replaced_by_name_and_kept_across_reopening,
    revoked_user_sigs_move_only_later_and_outlive_the_user,
    status_subscriptions_keep_the_latest_within_the_cap_and_custom_statuses_clear,
    online_messages_with_receipts_keep_receipt_state_outside_the_sequence,
    the_conversation_list_is_read_by_activity_and_pages_stay_stable_while_conversations_move,
    total_unread_and_marking_everything_read_cover_every_conversation,
    batched_unread_reads_agree_with_one_at_a_time,
    a_pages_parts_are_what_reads_one_at_a_time_give,
    an_avchatroom_counts_no_unread_messages,
    joined_groups_come_page_by_page_and_are_counted,
    a_recalled_message_keeps_its_place_and_loses_its_content,
    a_recalled_message_takes_no_receipts_but_keeps_its_counts,
    receipts_racing_a_recall_are_all_recorded_before_it_or_refused,
    private_receipts_are_checked_and_shown_to_nobody,
    targeted_messages_are_seen_by_their_targets_and_sender_only,
    a_message_keeps_its_mentions_and_an_online_message_its_targets,
    many_viewers_mentions_are_exact_past_many_mentioning_messages,
    profiles_change_field_by_field_and_are_kept_across_reopening,
    name_cards_are_set_for_current_members_and_listed_with_live_profiles,
    a_message_keeps_the_sender_card_it_was_sent_with,
);
