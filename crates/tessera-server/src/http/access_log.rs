//! The access log (`TESSERA_ACCESS_LOG`, off by default): one line per request, written by a
//! thread of its own. A request only formats its line and offers it to a bounded queue; when
//! the queue is full (the disk or the terminal cannot keep up), the line is dropped and
//! counted in `tessera_access_log_dropped_lines_total`, so the log never slows a request.
//!
//! A line: `2026-12-01T02:10:00.123Z 127.0.0.1:51234 "POST /oauth/token" 200 0.412ms`. The
//! path only: the query string may carry a secret, and is never written.

use crate::config::AccessLogTarget;
use crate::metrics::Metrics;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;
use tessera_core::Timestamp;

/// Lines that may wait for the writer; beyond this they are dropped.
pub const QUEUE_LINES: usize = 8_192;

enum Message {
    Line(String),
    Stop,
}

/// The requests' side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct AccessLog {
    queue: SyncSender<Message>,
    metrics: Arc<Metrics>,
}

/// The writer thread; [`AccessLogWriter::finish`] writes what is queued and stops it.
pub struct AccessLogWriter {
    queue: SyncSender<Message>,
    thread: std::thread::JoinHandle<()>,
}

/// One request, as the access log records it.
pub struct Entry<'a> {
    pub at: Timestamp,
    pub peer: Option<SocketAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub elapsed: Duration,
}

impl AccessLog {
    /// Opens the target (a file is created or appended to) and starts the writer; `None` when
    /// the access log is off.
    pub fn open(
        target: &AccessLogTarget,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Option<(AccessLog, AccessLogWriter)>> {
        let out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => return Ok(None),
            AccessLogTarget::Stdout => Box::new(std::io::stdout()),
            AccessLogTarget::Stderr => Box::new(std::io::stderr()),
            AccessLogTarget::File(path) => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
        };
        let (queue, lines) = sync_channel(QUEUE_LINES);
        let thread = std::thread::Builder::new().name("access-log".into()).spawn(move || write_lines(&lines, out))?;
        Ok(Some((AccessLog { queue: queue.clone(), metrics }, AccessLogWriter { queue, thread })))
    }

    /// Queues the entry's line, or drops and counts it if the writer is behind.
    pub fn record(&self, entry: &Entry<'_>) {
        match self.queue.try_send(Message::Line(entry.line())) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.metrics.access_log_line_dropped(),
        }
    }
}

impl AccessLogWriter {
    /// Writes the queued lines, flushes, and ends the thread. Blocks: call it off the runtime.
    pub fn finish(self) {
        if self.queue.send(Message::Stop).is_ok() {
            let _ = self.thread.join();
        }
    }
}

/// Writes lines as they come, flushing whenever the queue is empty.
fn write_lines(lines: &Receiver<Message>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut next = lines.recv();
    while let Ok(Message::Line(line)) = next {
        // A failed write loses the line: the log must not take the server down with it.
        let _ = out.write_all(line.as_bytes());
        next = match lines.try_recv() {
            Ok(message) => Ok(message),
            Err(_) => {
                let _ = out.flush();
                lines.recv()
            }
        };
    }
    let _ = out.flush();
}

impl Entry<'_> {
    fn line(&self) -> String {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.at.millis()) * 1_000_000)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| self.at.millis().to_string());
        let peer = self.peer.map_or_else(|| "-".to_owned(), |peer| peer.to_string());
        let millis = self.elapsed.as_secs_f64() * 1000.0;
        format!("{at} {peer} \"{} {}\" {} {millis:.3}ms\n", self.method, self.path, self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_time_peer_request_status_and_duration() {
        let entry = Entry {
            at: Timestamp::from_millis(1_764_554_400_123),
            peer: Some("127.0.0.1:51234".parse().unwrap()),
            method: "POST",
            path: "/oauth/token",
            status: 200,
            elapsed: Duration::from_micros(412),
        };
        assert_eq!(entry.line(), "2025-12-01T02:00:00.123Z 127.0.0.1:51234 \"POST /oauth/token\" 200 0.412ms\n");
        let unknown_peer = Entry { peer: None, ..entry };
        assert!(unknown_peer.line().contains("Z - \"POST"), "{}", unknown_peer.line());
    }

    #[test]
    fn a_full_queue_drops_lines_instead_of_waiting() {
        let metrics = Arc::new(Metrics::default());
        // A writer that never drains: the queue fills, and requests must still go through.
        let (queue, _lines) = sync_channel(2);
        let log = AccessLog { queue, metrics: Arc::clone(&metrics) };
        let entry = Entry {
            at: Timestamp::from_millis(0),
            peer: None,
            method: "GET",
            path: "/healthz",
            status: 200,
            elapsed: Duration::ZERO,
        };
        for _ in 0..5 {
            log.record(&entry);
        }
        assert!(metrics.render().lines().any(|line| line == "tessera_access_log_dropped_lines_total 3"));
    }
}
