//! Defines [`LogBook`]: what one supervised service wrote on stdout and stderr, kept three
//! ways: the last lines in memory (a ring buffer, for `logs(id, tail)`), a broadcast channel
//! for live followers, and a rotating file `<dir>/<service>.log` (size limit, `keep` older
//! files `<service>.log.1` ... `.N`, the highest the oldest).
//!
//! It does not read the pipes (the runner does, line by line) and does not decide where the
//! directory is (the supervisor's options do). A file write that fails drops the file; the
//! memory copy and the followers go on.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use iza_store::Millis;
use serde::Serialize;
use tokio::sync::broadcast;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line a service wrote (without its line break; invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Position among the service's lines since the supervisor started, from 1.
    pub seq: u64,
    /// When it was read, Unix milliseconds.
    pub at: Millis,
    /// Its pipe.
    pub stream: Stream,
    /// The text.
    pub text: String,
}

/// Limits of a [`LogBook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Lines kept in memory per service (1,000).
    pub memory_lines: usize,
    /// Where the files go; none keeps logs in memory only.
    pub dir: Option<PathBuf>,
    /// A file is rotated when a line would take it past this many bytes (10 MiB).
    pub file_limit: u64,
    /// Rotated files kept (3).
    pub keep: usize,
    /// Lines a follower may fall behind before it misses some (1,024).
    pub follow_capacity: usize,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            memory_lines: 1000,
            dir: None,
            file_limit: 10 * 1024 * 1024,
            keep: 3,
            follow_capacity: 1024,
        }
    }
}

struct Inner {
    seq: u64,
    lines: VecDeque<LogLine>,
    file: Option<RotatingFile>,
    /// The followers' channel, made for the first follower and dropped when the last one has
    /// gone: a channel holds `follow_capacity` slots (about 100 KB), and most services are
    /// never followed.
    sender: Option<broadcast::Sender<LogLine>>,
}

/// The logs of one service; see the module documentation.
pub struct LogBook {
    capacity: usize,
    follow_capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for LogBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBook")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl LogBook {
    /// A log book for `service`; its file is opened (appending) when `options.dir` is set.
    /// Returns the book and the error of opening the file, if any (the book then keeps
    /// memory only).
    pub fn new(service: &str, options: &LogOptions) -> (LogBook, Option<std::io::Error>) {
        let (file, error) = match &options.dir {
            Some(dir) => match RotatingFile::open(dir, service, options.file_limit, options.keep) {
                Ok(file) => (Some(file), None),
                Err(err) => (None, Some(err)),
            },
            None => (None, None),
        };
        let book = LogBook {
            capacity: options.memory_lines.max(1),
            follow_capacity: options.follow_capacity.max(1),
            inner: Mutex::new(Inner {
                seq: 0,
                lines: VecDeque::new(),
                file,
                sender: None,
            }),
        };
        (book, error)
    }

    /// Adds a line: to memory, to the file, to followers.
    pub fn push(&self, stream: Stream, text: String, at: Millis) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.seq += 1;
        let line = LogLine {
            seq: inner.seq,
            at,
            stream,
            text,
        };
        if let Some(file) = &mut inner.file
            && file.write(&line).is_err()
        {
            // A full disk must not stop the service; memory and followers go on.
            inner.file = None;
        }
        if inner.lines.len() == self.capacity {
            inner.lines.pop_front();
        }
        // Sent under the lock, so a follower that subscribed after `tail` misses nothing.
        if let Some(sender) = &inner.sender {
            if sender.receiver_count() == 0 {
                inner.sender = None;
            } else {
                let _ = sender.send(line.clone());
            }
        }
        inner.lines.push_back(line);
    }

    /// The last `tail` lines in memory, oldest first.
    pub fn tail(&self, tail: usize) -> Vec<LogLine> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = inner.lines.len().saturating_sub(tail);
        inner.lines.iter().skip(skip).cloned().collect()
    }

    /// A receiver of every line pushed from now on.
    pub fn follow(&self) -> broadcast::Receiver<LogLine> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        self.subscribe(&mut inner)
    }

    /// The last `tail` lines and a receiver of every later one, with nothing lost between.
    pub fn tail_and_follow(&self, tail: usize) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = inner.lines.len().saturating_sub(tail);
        let lines = inner.lines.iter().skip(skip).cloned().collect();
        (lines, self.subscribe(&mut inner))
    }

    /// A receiver on the followers' channel, made now if there is none.
    fn subscribe(&self, inner: &mut Inner) -> broadcast::Receiver<LogLine> {
        match &inner.sender {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(self.follow_capacity);
                inner.sender = Some(sender);
                receiver
            }
        }
    }
}

/// `<dir>/<service>.log`, rotated by size.
struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
    keep: usize,
}

impl RotatingFile {
    fn open(dir: &Path, service: &str, limit: u64, keep: usize) -> std::io::Result<RotatingFile> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{service}.log"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file,
            size,
            limit: limit.max(1),
            keep,
        })
    }

    fn write(&mut self, line: &LogLine) -> std::io::Result<()> {
        let stream = match line.stream {
            Stream::Stdout => "out",
            Stream::Stderr => "err",
        };
        let at = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(line.at).unwrap_or(0));
        let text = format!(
            "{} {stream} {}\n",
            humantime::format_rfc3339_millis(at),
            line.text
        );
        let len = text.len() as u64;
        if self.size > 0 && self.size + len > self.limit {
            self.rotate()?;
        }
        self.file.write_all(text.as_bytes())?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_followers_channel_exists_only_while_someone_follows() {
        let (book, _) = LogBook::new("svc", &LogOptions::default());
        let has_channel = |book: &LogBook| book.inner.lock().unwrap().sender.is_some();
        book.push(Stream::Stdout, "nobody listens".into(), 1);
        assert!(!has_channel(&book));
        let mut first = book.follow();
        book.push(Stream::Stdout, "one".into(), 2);
        assert_eq!(first.try_recv().unwrap().text, "one");
        drop(first);
        // The next line finds no follower and lets the channel go; a new follower gets a new
        // one and every line after it.
        book.push(Stream::Stdout, "two".into(), 3);
        assert!(!has_channel(&book));
        let (tail, mut second) = book.tail_and_follow(1);
        assert_eq!(tail[0].text, "two");
        book.push(Stream::Stderr, "three".into(), 4);
        assert_eq!(second.try_recv().unwrap().seq, 4);
    }

    #[test]
    fn memory_keeps_the_last_lines_and_followers_get_new_ones() {
        let options = LogOptions {
            memory_lines: 3,
            ..LogOptions::default()
        };
        let (book, error) = LogBook::new("svc", &options);
        assert!(error.is_none());
        let mut follower = book.follow();
        for i in 1..=5 {
            book.push(Stream::Stdout, format!("line {i}"), i);
        }
        let texts = |lines: Vec<LogLine>| lines.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(texts(book.tail(10)), ["line 3", "line 4", "line 5"]);
        assert_eq!(texts(book.tail(2)), ["line 4", "line 5"]);
        assert_eq!(book.tail(1)[0].seq, 5);
        for i in 1..=5 {
            assert_eq!(follower.try_recv().unwrap().text, format!("line {i}"));
        }
        let (tail, mut later) = book.tail_and_follow(1);
        assert_eq!(texts(tail), ["line 5"]);
        book.push(Stream::Stderr, "oops".into(), 6);
        let line = later.try_recv().unwrap();
        assert_eq!((line.stream, line.text.as_str()), (Stream::Stderr, "oops"));
    }

    #[test]
    fn files_rotate_at_the_limit_and_keep_n() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            dir: Some(dir.path().to_owned()),
            file_limit: 64,
            keep: 2,
            ..LogOptions::default()
        };
        let (book, error) = LogBook::new("api", &options);
        assert!(error.is_none());
        // Each written line is `1970-01-01T00:00:00.001Z out line-NN\n`, 38 bytes: one fits
        // in 64.
        for i in 0..20 {
            book.push(Stream::Stdout, format!("line-{i:02}"), 1);
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).ok();
        let current = read("api.log").unwrap();
        assert!(current.len() <= 64, "{current}");
        assert!(current.ends_with(" out line-19\n"), "{current}");
        assert!(current.starts_with("1970-01-01T00:00:00.001Z"), "{current}");
        assert!(read("api.log.1").is_some());
        assert!(read("api.log.2").is_some());
        assert!(read("api.log.3").is_none(), "only `keep` rotated files");
        let oldest = read("api.log.2").unwrap();
        let newer = read("api.log.1").unwrap();
        assert!(oldest < newer, "`.2` is older than `.1`");
    }
}
