//! The embedded SQLite engine: one writer thread with group commit, a pool of readers.
//!
//! Writes are closures queued to a single thread that owns the write connection. It takes every
//! job waiting, runs each inside its own savepoint of one transaction, commits once (one WAL
//! sync for the whole batch), and only then answers each job. So every acknowledged write is
//! durable, and throughput grows with concurrency instead of being capped by fsync latency.
//!
//! The SQL lives in one module per area (`users`, `groups`, `messages`, `conversations`,
//! `receipts`, `settings`, over `rows` and the receipt `layout`); `store_impl` only hands each trait call
//! to the writer or a reader and to its area's function.

mod conversations;
mod groups;
mod health;
mod layout;
mod mentions;
mod messages;
mod migrate;
mod parts;
mod receipt_cache;
mod receipts;
mod rows;
mod settings;
mod status;
mod store_impl;
mod users;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{StoreError, StoreResult};
use receipt_cache::ReceiptCache;

/// How hard SQLite syncs each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Sync the WAL on every commit: acknowledged writes survive power loss (default).
    #[default]
    Full,
    /// Sync at checkpoints only: acknowledged writes survive a killed process, not power loss.
    Normal,
}

/// Options of the SQLite engine.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Database file.
    pub path: PathBuf,
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Most jobs committed together.
    pub max_batch: usize,
    /// Most concurrent reader connections.
    pub max_readers: usize,
    /// About how many bytes of group receipt state the writer keeps between batches.
    pub receipt_cache_bytes: usize,
}

impl SqliteOptions {
    /// Defaults for a database file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            max_batch: 512,
            max_readers: std::thread::available_parallelism().map_or(4, |n| n.get() * 4),
            receipt_cache_bytes: 64 << 20,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection (the store has fewer distinct ones).
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Answers a job that ran, once its batch committed (`Ok`) or failed (`Err`, why).
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A write queued to the writer thread.
trait Job: Send {
    /// Runs the work in the batch's transaction: whether it succeeded, and how to answer it
    /// once the batch's fate is known.
    fn run(self: Box<Self>, conn: &Connection, receipts: &mut ReceiptCache) -> (bool, Completion);

    /// Answers without running: the batch failed, for `reason`, before reaching this job.
    fn abandon(self: Box<Self>, reason: &str);
}

/// A job's work and where its caller waits for the answer.
struct WriteJob<F, T> {
    work: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<F, T> Job for WriteJob<F, T>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut ReceiptCache) -> StoreResult<T> + Send,
{
    fn run(self: Box<Self>, conn: &Connection, receipts: &mut ReceiptCache) -> (bool, Completion) {
        let Self { work, reply } = *self;
        let outcome = work(conn, receipts);
        let ok = outcome.is_ok();
        let completion: Completion = Box::new(move |committed| {
            let result = match committed {
                Ok(()) => outcome,
                Err(reason) => Err(batch_failed(&reason)),
            };
            let _ = reply.send(result);
        });
        (ok, completion)
    }

    fn abandon(self: Box<Self>, reason: &str) {
        let _ = self.reply.send(Err(batch_failed(reason)));
    }
}

/// The error of every job of a batch that did not commit.
fn batch_failed(reason: &str) -> StoreError {
    StoreError::Unavailable(format!("commit failed: {reason}"))
}

/// A job running `work`, and where its answer arrives.
fn write_job<T, F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<T>>)
where
    T: Send + 'static,
    F: FnOnce(&Connection, &mut ReceiptCache) -> StoreResult<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    (Box::new(WriteJob { work, reply }), answer)
}

/// The embedded store.
pub struct SqliteStore {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
    readers: Arc<ReaderPool>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and starts the writer thread.
    pub fn open(options: SqliteOptions) -> StoreResult<Self> {
        let mut writer = open_connection(&options.path, options.synchronous)?;
        migrate::migrate(&mut writer)?;
        let (jobs, queue) = mpsc::unbounded_channel();
        let max_batch = options.max_batch.max(1);
        let receipts = ReceiptCache::new(options.receipt_cache_bytes);
        std::thread::Builder::new()
            .name("tidings-sqlite-writer".into())
            .spawn(move || run_writer(&mut writer, queue, max_batch, receipts))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        let readers = Arc::new(ReaderPool {
            path: options.path,
            synchronous: options.synchronous,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(options.max_readers.max(1))),
        });
        Ok(Self { jobs, readers })
    }

    /// Runs `work` in the writer's transaction; resolves after the batch holding it committed.
    async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.write_with_receipts(move |conn, _| work(conn)).await
    }

    /// Like [`SqliteStore::write`], with the writer's group receipt states. A job must finish
    /// its checks before changing a cached state: a failed job's savepoint rolls back its SQL,
    /// not the cache.
    async fn write_with_receipts<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut ReceiptCache) -> StoreResult<T> + Send + 'static,
    {
        let (job, answer) = write_job(work);
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("writer thread stopped".into()))?
    }

    /// Runs `work` on a reader connection in the blocking pool, in one read transaction: every
    /// statement of it sees the same commit, though the writer may commit between two of them
    /// (a fold of receipt deltas into their blob, for one).
    async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.readers.slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("reader pool closed".into()))?;
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = conn
                .unchecked_transaction()
                .map_err(StoreError::from)
                .and_then(|snapshot| work(&snapshot));
            readers.give_back(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }
}

struct ReaderPool {
    path: PathBuf,
    synchronous: Synchronous,
    idle: Mutex<Vec<Connection>>,
    /// Caps concurrent reads (and so reader connections and blocking threads): beyond a few
    /// per core, more readers only add contention.
    slots: Arc<Semaphore>,
}

impl ReaderPool {
    fn take(&self) -> StoreResult<Connection> {
        let idle = self
            .idle
            .lock()
            .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path, self.synchronous),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

fn open_connection(path: &Path, synchronous: Synchronous) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    // First, so that the pragmas below also wait out a lock held elsewhere for a moment.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let sync = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};"
    ))?;
    // Room for every statement the store prepares (Rusqlite's default keeps 16), so none is
    // parsed again after being pushed out.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// The writer loop: batch, run each job in a savepoint, commit once, then answer.
fn run_writer(
    conn: &mut Connection,
    mut queue: mpsc::UnboundedReceiver<Box<dyn Job>>,
    max_batch: usize,
    mut receipts: ReceiptCache,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = VecDeque::from([first]);
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push_back(job),
                Err(_) => break,
            }
        }
        let mut completions = Vec::with_capacity(batch.len());
        let committed = run_batch(conn, &mut batch, &mut receipts, &mut completions);
        match &committed {
            Ok(()) => receipts.end_batch(),
            Err(reason) => {
                receipts.discard();
                tracing::error!(%reason, "sqlite batch failed");
                // The jobs the failure came before are answered with it too, not dropped.
                for job in batch {
                    job.abandon(reason);
                }
            }
        }
        for completion in completions {
            completion(committed.clone());
        }
    }
}

/// Runs a statement without parameters or rows, prepared once per connection: a savepoint
/// opened and released per job is parsed once, not twice per job.
fn run_statement(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs the jobs of `batch` in one transaction and commits it. On failure, `batch` keeps the
/// jobs not run.
fn run_batch(
    conn: &mut Connection,
    batch: &mut VecDeque<Box<dyn Job>>,
    receipts: &mut ReceiptCache,
    completions: &mut Vec<Completion>,
) -> Result<(), String> {
    // Immediate: the write lock is taken here, where a lock held elsewhere for a moment is
    // waited out. A deferred transaction that read first fails at once when its first write
    // finds the lock taken (SQLite does not wait there), and so did a job now and then.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    while let Some(job) = batch.pop_front() {
        if let Err(reason) = run_statement(&tx, "SAVEPOINT job") {
            // Not run: the caller answers it with the failure.
            batch.push_front(job);
            return Err(reason);
        }
        let (ok, completion) = job.run(&tx, receipts);
        completions.push(completion);
        // A failed job's own changes are rolled back; the others' stay in the batch.
        if ok {
            run_statement(&tx, "RELEASE job")?;
        } else {
            run_statement(&tx, "ROLLBACK TO job")?;
            run_statement(&tx, "RELEASE job")?;
        }
    }
    receipts.flush(&tx).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn insert_user(conn: &Connection, user_id: &str) -> StoreResult<()> {
        conn.execute(
            "INSERT INTO users (user_id, created_at) VALUES (?1, 0)",
            [user_id],
        )?;
        Ok(())
    }

    /// A job that releases its own savepoint makes the writer's `RELEASE job` fail, and so the
    /// batch: every job of it, run or not, is answered with that failure.
    #[test]
    fn every_job_of_a_failed_batch_gets_its_failure() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate::migrate(&mut conn).unwrap();
        let later_ran = Arc::new(AtomicBool::new(false));
        let (queue, jobs) = mpsc::unbounded_channel();
        let (before, before_answer) = write_job(|conn, _| insert_user(conn, "before"));
        let (breaking, breaking_answer) = write_job(|conn, _| {
            conn.execute_batch("RELEASE job")?;
            Ok(())
        });
        let ran = Arc::clone(&later_ran);
        let (after, after_answer) = write_job(move |conn, _| {
            ran.store(true, Ordering::SeqCst);
            insert_user(conn, "after")
        });
        for job in [before, breaking, after] {
            queue.send(job).unwrap();
        }
        drop(queue);

        run_writer(&mut conn, jobs, 16, ReceiptCache::new(0));

        let failure: Result<(), String> =
            Err("store unavailable: commit failed: no such savepoint: job".into());
        let answers = [before_answer, breaking_answer, after_answer].map(|mut answer| {
            answer
                .try_recv()
                .map(|result| result.map_err(|e| e.to_string()))
        });
        assert_eq!(
            answers,
            [Ok(failure.clone()), Ok(failure.clone()), Ok(failure)]
        );
        assert!(!later_ran.load(Ordering::SeqCst));
        let users: u64 = conn
            .query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
            .unwrap();
        assert_eq!(users, 0);
    }
}
