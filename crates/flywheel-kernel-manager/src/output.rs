//! One execution's record, and the caps on what it may hold: text beyond
//! [`Limits::max_text_bytes`] is dropped with a visible note, and a rich
//! item (image, HTML) beyond [`Limits::max_rich_bytes`] is replaced by one.

use flywheel_kernel_protocol::{Output, StreamName};
use serde::Serialize;

/// How an execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Waiting: behind other cells of this session, for a compile slot, or for the kernel to start.
    Queued,
    /// Sent to the kernel.
    Running,
    /// Ran to the end.
    Ok,
    /// Failed to compile, panicked, was refused, or the kernel died; an `error` output says why.
    Error,
    /// Stopped by an interrupt, a restart or the time limit, or not run because an earlier cell failed.
    Interrupted,
}

impl ExecutionStatus {
    /// Whether it has ended.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// Output caps per execution.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of printed text (stdout and stderr together, and tracebacks).
    pub max_text_bytes: usize,
    /// Bytes of one rich item (an SVG, a base64 PNG, an HTML table).
    pub max_rich_bytes: usize,
}

/// One run of one cell: what it printed and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    /// Counts from 1 within the session; nbformat's `execution_count`.
    pub id: u64,
    /// How it stands.
    pub status: ExecutionStatus,
    /// Outputs in nbformat's shapes; consecutive text on the same stream is merged.
    pub outputs: Vec<Output>,
    /// While queued: 1 when it is next to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    /// Wall time in the kernel, in milliseconds, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// Whether some output was dropped for exceeding a cap.
    pub truncated: bool,
    #[serde(skip)]
    text_bytes: usize,
}

impl Execution {
    /// A queued execution.
    pub fn queued(id: u64) -> Self {
        Self {
            id,
            status: ExecutionStatus::Queued,
            outputs: Vec::new(),
            queue_position: None,
            elapsed_ms: None,
            truncated: false,
            text_bytes: 0,
        }
    }

    /// Adds an output within `limits`; returns what was kept (to broadcast),
    /// which may be shortened, a note, or nothing.
    pub fn push(&mut self, output: Output, limits: Limits) -> Vec<Output> {
        match output {
            Output::Stream { name, text } => self.push_text(name, &text, limits),
            Output::DisplayData { mut data, metadata } => {
                self.cap_rich(&mut data, limits);
                self.keep(Output::DisplayData { data, metadata })
            }
            Output::ExecuteResult { execution_count, mut data, metadata } => {
                self.cap_rich(&mut data, limits);
                self.keep(Output::ExecuteResult { execution_count, data, metadata })
            }
            Output::Error { ename, evalue, mut traceback, locations } => {
                let room = limits.max_text_bytes.saturating_sub(self.text_bytes);
                let mut used = evalue.len();
                traceback.retain(|line| {
                    used += line.len() + 1;
                    used <= room
                });
                self.text_bytes += used.min(room);
                self.keep(Output::Error { ename, evalue, traceback, locations })
            }
        }
    }

    fn keep(&mut self, output: Output) -> Vec<Output> {
        self.outputs.push(output.clone());
        vec![output]
    }

    fn push_text(&mut self, name: StreamName, text: &str, limits: Limits) -> Vec<Output> {
        if self.truncated && self.text_bytes >= limits.max_text_bytes {
            return Vec::new();
        }
        let room = limits.max_text_bytes.saturating_sub(self.text_bytes);
        let mut kept = Vec::new();
        let fits = floor_char_boundary(text, room);
        if fits > 0 {
            kept.push(self.append(name, &text[..fits]));
        }
        if fits < text.len() {
            self.truncated = true;
            self.text_bytes = limits.max_text_bytes;
            let note = format!(
                "\n[Output truncated: this cell printed more than {}; the rest was dropped.]\n",
                human_bytes(limits.max_text_bytes)
            );
            kept.push(self.append(StreamName::Stderr, &note));
        }
        kept
    }

    /// Appends text to the last output when it is the same stream.
    fn append(&mut self, name: StreamName, text: &str) -> Output {
        self.text_bytes += text.len();
        let chunk = Output::Stream { name, text: text.to_owned() };
        if let Some(Output::Stream { name: last, text: all }) = self.outputs.last_mut()
            && *last == name
        {
            all.push_str(text);
        } else {
            self.outputs.push(chunk.clone());
        }
        chunk
    }

    fn cap_rich(&mut self, data: &mut std::collections::BTreeMap<String, String>, limits: Limits) {
        let too_big: Vec<String> =
            data.iter().filter(|(_, v)| v.len() > limits.max_rich_bytes).map(|(k, _)| k.clone()).collect();
        for mime in too_big {
            let size = data.remove(&mime).map_or(0, |v| v.len());
            self.truncated = true;
            data.insert(
                "text/plain".to_owned(),
                format!(
                    "[{mime} output of {} not shown: the limit per item is {}.]",
                    human_bytes(size),
                    human_bytes(limits.max_rich_bytes)
                ),
            );
        }
    }
}

/// The largest index ≤ `at` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// `1 MiB`, `512 KiB`, `300 bytes`.
pub fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// `120 s`, `0.3 s`.
pub fn human_duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const LIMITS: Limits = Limits { max_text_bytes: 10, max_rich_bytes: 8 };

    fn stdout(text: &str) -> Output {
        Output::Stream { name: StreamName::Stdout, text: text.to_owned() }
    }

    #[test]
    fn text_on_one_stream_merges_and_stops_at_the_cap_with_a_note() {
        let mut e = Execution::queued(1);
        assert_eq!(e.push(stdout("abc\n"), LIMITS), vec![stdout("abc\n")]);
        e.push(stdout("def\n"), LIMITS);
        assert_eq!(e.outputs, vec![stdout("abc\ndef\n")], "merged");
        let kept = e.push(stdout("ghijkl\n"), LIMITS);
        assert_eq!(kept[0], stdout("gh"), "only what fits");
        assert!(e.truncated);
        assert!(
            matches!(&e.outputs[1], Output::Stream { name: StreamName::Stderr, text } if text.contains("more than 10 bytes"))
        );
        assert!(e.push(stdout("more"), LIMITS).is_empty(), "nothing after the cap");
        assert_eq!(e.outputs.len(), 2);
    }

    #[test]
    fn truncation_never_splits_a_character() {
        let mut e = Execution::queued(1);
        e.push(stdout("ééééééé"), LIMITS); // 14 bytes
        let Output::Stream { text, .. } = &e.outputs[0] else { panic!() };
        assert_eq!(text, "ééééé");
    }

    #[test]
    fn a_rich_item_over_its_cap_is_replaced_by_a_note() {
        let mut e = Execution::queued(1);
        let mut data = BTreeMap::new();
        data.insert("image/svg+xml".to_owned(), "<svg>0123456789</svg>".to_owned());
        e.push(Output::DisplayData { data, metadata: BTreeMap::new() }, LIMITS);
        let Output::DisplayData { data, .. } = &e.outputs[0] else { panic!() };
        assert!(!data.contains_key("image/svg+xml"));
        assert!(data["text/plain"].contains("image/svg+xml output of 21 bytes not shown"), "{data:?}");
        assert!(e.truncated);
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(1024 * 1024), "1 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5 MiB");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
