//! Versioned schema migrations: the rule every engine applies at start.
//!
//! Each engine keeps an ordered list of migrations (version 1 is the first schema) and the
//! version its database is at. At start it applies the missing ones in order, each in the
//! same transaction as the version it records, and refuses a database at a version newer than
//! the newest it knows (written by a newer build, whose data this build could misread).

use crate::{StoreError, StoreResult};

/// The schema version this build writes. Each engine's migrations run 1, 2, … up to it with no
/// gap (a test checks): a migration numbered below a database's version would never be applied
/// to it, so a new one always takes the next number.
pub const SCHEMA_VERSION: i64 = 11;

/// One step of an engine's schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The schema version after this step (1, 2, … with no gap).
    pub(crate) version: i64,
    /// The SQL of the step.
    pub(crate) sql: &'static str,
}

/// The migrations a database at `current` still needs, in order; an error when `current` is
/// newer than the newest of `all`.
pub(crate) fn pending(
    all: &'static [Migration],
    current: i64,
) -> StoreResult<&'static [Migration]> {
    let known = all.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    let applied = all.iter().take_while(|m| m.version <= current).count();
    Ok(&all[applied..])
}

/// Whether `all` runs exactly 1, 2, … up to [`SCHEMA_VERSION`]: each engine's tests check
/// their own list with it.
#[cfg(test)]
pub(crate) fn runs_every_version(all: &[Migration]) -> bool {
    all.iter().map(|m| m.version).eq(1..=SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[Migration] = &[
        Migration {
            version: 1,
            sql: "one",
        },
        Migration {
            version: 2,
            sql: "two",
        },
    ];

    #[test]
    fn a_new_database_gets_every_step_and_a_current_one_none() {
        let versions = |current| -> Vec<i64> {
            pending(LIST, current)
                .unwrap()
                .iter()
                .map(|m| m.version)
                .collect()
        };
        assert_eq!(versions(0), vec![1, 2]);
        assert_eq!(versions(1), vec![2]);
        assert_eq!(versions(2), Vec::<i64>::new());
    }

    #[test]
    fn a_newer_database_is_refused() {
        assert!(matches!(
            pending(LIST, 3),
            Err(StoreError::SchemaTooNew { found: 3, known: 2 })
        ));
    }
}
