//! The worker as Flywheel uses it: a real `flywheel-kernel` process, real
//! evcxr compiles. Slow (each kernel start compiles a first cell), and run
//! in CI all the same.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use flywheel_kernel_protocol::{Event, Output, PROTOCOL_VERSION, Request, Status, StreamName, from_line, to_line};

/// A running worker.
struct Kernel {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<(Instant, Event)>,
    next_id: u64,
}

/// What one execution produced.
struct Ran {
    outputs: Vec<(Instant, Output)>,
    status: Status,
    done_at: Instant,
}

impl Ran {
    fn result_text(&self, mime: &str) -> Option<String> {
        self.outputs.iter().find_map(|(_, o)| match o {
            Output::ExecuteResult { data, .. } => data.get(mime).cloned(),
            _ => None,
        })
    }
    fn stdout(&self) -> String {
        self.outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Stream { name: StreamName::Stdout, text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
    fn error(&self) -> Option<(&str, &str, &[flywheel_kernel_protocol::Location])> {
        self.outputs.iter().find_map(|(_, o)| match o {
            Output::Error { ename, evalue, locations, .. } => {
                Some((ename.as_str(), evalue.as_str(), locations.as_slice()))
            }
            _ => None,
        })
    }
}

impl Kernel {
    fn start() -> Kernel {
        Kernel::start_with(&[], Duration::from_secs(120))
    }

    fn start_with(args: &[&str], ready_within: Duration) -> Kernel {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flywheel-kernel"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the kernel worker");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event: Event = from_line(&line).unwrap_or_else(|e| panic!("bad event line {line:?}: {e}"));
                if tx.send((Instant::now(), event)).is_err() {
                    break;
                }
            }
        });
        let k = Kernel { child, stdin, events, next_id: 1 };
        match k.next(ready_within) {
            (_, Event::Ready { protocol, .. }) => assert_eq!(protocol, PROTOCOL_VERSION),
            (_, other) => panic!("expected ready, got {other:?}"),
        }
        k
    }

    fn next(&self, within: Duration) -> (Instant, Event) {
        match self.events.recv_timeout(within) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => panic!("no event within {within:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the kernel exited"),
        }
    }

    fn send(&mut self, request: &Request) {
        self.stdin.write_all(to_line(request).expect("encode").as_bytes()).expect("write request");
        self.stdin.flush().expect("flush");
    }

    fn submit(&mut self, code: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&Request::Execute { id, code: code.to_owned() });
        id
    }

    fn wait(&mut self, id: u64) -> Ran {
        let mut outputs = Vec::new();
        loop {
            match self.next(Duration::from_secs(180)) {
                (at, Event::Output { id: got, output }) => {
                    assert_eq!(got, id, "output for another execution");
                    outputs.push((at, output));
                }
                (done_at, Event::Done { id: got, status, .. }) => {
                    assert_eq!(got, id);
                    return Ran { outputs, status, done_at };
                }
                (_, other) => panic!("unexpected {other:?}"),
            }
        }
    }

    fn run(&mut self, code: &str) -> Ran {
        let id = self.submit(code);
        self.wait(id)
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.send_shutdown();
        let _ = self.child.wait();
    }
}

impl Kernel {
    fn send_shutdown(&mut self) -> std::io::Result<()> {
        self.stdin.write_all(to_line(&Request::Shutdown).expect("encode").as_bytes())
    }
}

#[test]
fn cells_keep_variables_stream_output_and_report_errors() {
    let mut k = Kernel::start();

    let r = k.run("let x = 40;");
    assert_eq!(r.status, Status::Ok);
    let r = k.run("x + 2");
    assert_eq!((r.status, r.result_text("text/plain").as_deref()), (Status::Ok, Some("42")));

    // Output arrives while the cell runs, not only at the end.
    let r =
        k.run("for i in 0..3 { println!(\"tick {i}\"); std::thread::sleep(std::time::Duration::from_millis(500)); }");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.stdout(), "tick 0\ntick 1\ntick 2\n");
    let first = r.outputs.first().expect("streamed output").0;
    assert!(r.done_at.duration_since(first) >= Duration::from_millis(900), "the first line came well before the end");

    let r = k.run("let a: i32 = 1;\nlet b: String = a;");
    assert_eq!(r.status, Status::Error);
    let (ename, evalue, locations) = r.error().expect("an error output");
    assert_eq!(ename, "CompilationError");
    assert!(evalue.contains("mismatched types"), "{evalue}");
    assert_eq!(locations.first().map(|l| l.line), Some(2), "the line within the cell");

    let r = k.run("panic!(\"boom\");");
    assert_eq!(r.status, Status::Error, "a panic fails the cell");
    assert_eq!(r.error().map(|e| (e.0, e.1)), Some(("Panic", "the cell panicked: boom")));

    // evcxr itself answers Ok to an error returned through `?`; the worker
    // sees it through its relay and fails the cell with the error's text.
    let r = k.run("let y: i32 = \"4x\".parse()?;\nprintln!(\"not reached\");");
    assert_eq!(r.status, Status::Error, "a `?` error fails the cell");
    let (ename, evalue, _) = r.error().expect("an error output");
    assert_eq!(ename, "Error");
    assert!(evalue.contains("invalid digit found in string"), "{evalue}");
    assert!(!r.stdout().contains("not reached"), "{}", r.stdout());
    let r = k.run("y");
    assert_eq!((r.status, r.error().map(|e| e.0)), (Status::Error, Some("CompilationError")), "y was not kept");
    let r = k.run("let z: i32 = \"5\".parse()?;\nz + x");
    assert_eq!((r.status, r.result_text("text/plain").as_deref()), (Status::Ok, Some("45")), "`?` that succeeds");

    let r = k.run(":sccache 1");
    assert_eq!((r.status, r.error().map(|e| e.0)), (Status::Error, Some("Refused")));

    let r = k.run("struct Html; impl Html { pub fn evcxr_display(&self) { println!(\"EVCXR_BEGIN_CONTENT text/html\\n<b>hi</b>\\nEVCXR_END_CONTENT\"); } }\nHtml");
    assert_eq!(r.result_text("text/html").as_deref(), Some("<b>hi</b>"), "rich output");

    let r = k.run("x * 10");
    assert_eq!(r.result_text("text/plain").as_deref(), Some("400"), "earlier variables survive errors");

    // `:timing` shows where a cell's time went.
    assert_eq!(k.run(":timing").status, Status::Ok);
    let r = k.run("x + 1");
    let timing = r.outputs.iter().find_map(|(_, o)| match o {
        Output::DisplayData { data, .. } => data.get("text/plain").cloned(),
        _ => None,
    });
    assert!(timing.as_deref().is_some_and(|t| t.starts_with("Took ") && t.contains("Final compile")), "{timing:?}");
}

#[test]
fn an_interrupt_stops_a_running_cell_within_a_second_and_the_kernel_recovers() {
    let mut k = Kernel::start();
    assert_eq!(k.run("let kept = 1;").status, Status::Ok);
    let id = k.submit("println!(\"started\"); loop { std::thread::sleep(std::time::Duration::from_millis(10)); }");
    // Interrupt once it runs (not while it compiles).
    match k.next(Duration::from_secs(120)) {
        (_, Event::Output { output: Output::Stream { text, .. }, .. }) => assert_eq!(text, "started\n"),
        (_, other) => panic!("expected the cell to start, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    k.send(&Request::Interrupt);
    let r = k.wait(id);
    assert_eq!(r.status, Status::Interrupted);
    assert!(r.done_at.duration_since(asked) < Duration::from_secs(1), "stopped in {:?}", r.done_at - asked);
    let (ename, evalue, _) = r.error().expect("says what happened");
    assert_eq!(ename, "Interrupted");
    assert!(evalue.contains("variables from earlier cells were lost"), "{evalue}");

    let r = k.run("1 + 1");
    assert_eq!(r.result_text("text/plain").as_deref(), Some("2"), "usable after the interrupt");
}

#[test]
fn the_prelude_is_in_scope_and_a_fitted_model_survives_into_the_next_cell() {
    // Cold: the kernel compiles flywheel-ml and its dependencies first (minutes).
    let prelude = concat!(env!("CARGO_MANIFEST_DIR"), "/../flywheel-ml");
    let mut k = Kernel::start_with(&["--prelude", prelude], Duration::from_secs(900));
    assert_eq!(k.run("let iris = datasets::iris();").status, Status::Ok);
    let r = k.run("let model = KMeans::params(3).fit(&iris).unwrap();");
    assert_eq!(r.status, Status::Ok, "no type annotation needed: {:?}", r.error());
    let r = k.run("model.predict(iris.features()).unwrap().n_classes()");
    assert_eq!(r.result_text("text/plain").as_deref(), Some("3"), "the model survived: {:?}", r.error());
    let r = k.run("let clf = LinearLearner::classifier().fit(&iris).unwrap();\nmetrics::confusion_matrix(iris.labels().unwrap(), &clf.predict(iris.features()).unwrap()).unwrap().plot().unwrap()");
    let svg = r.result_text("image/svg+xml").unwrap_or_default();
    assert!(svg.starts_with("<svg"), "a plot renders inline: {:?}", r.error());

    // Final expressions are shown by the library's `show!`: rich, `{:?}`,
    // or the type's name, and nothing for `()`.
    let r = k.run("iris.features().clone()");
    let data = r.outputs.iter().find_map(|(_, o)| match o {
        Output::ExecuteResult { data, .. } => Some(data.keys().cloned().collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(data, Some(vec!["text/html".to_owned()]), "a table, and only the table: {:?}", r.error());
    let r = k.run("let s = \"a\";\ns.to_owned() + \"b\"");
    assert_eq!(r.result_text("text/plain").as_deref(), Some("\"ab\""), "{:?}", r.error());
    let r = k.run("struct Opaque;\nOpaque");
    assert!(r.result_text("text/plain").is_some_and(|t| t.ends_with("Opaque")), "the type's name: {:?}", r.outputs);
    let r = k.run("let unit = ();\nunit");
    assert_eq!((r.status, r.outputs.len()), (Status::Ok, 0), "{:?}", r.outputs);
    let r = k.run("let n = 2;\n    n + \"x\"");
    let (_, _, locations) = r.error().expect("a compile error");
    assert_eq!(locations.first().map(|l| (l.line, l.column)), Some((2, 7)), "where the participant wrote it");
    // A participant's own rich type: evcxr's display from then on.
    let r = k.run("struct Html; impl Html { pub fn evcxr_display(&self) { println!(\"EVCXR_BEGIN_CONTENT text/html\\n<b>hi</b>\\nEVCXR_END_CONTENT\"); } }\nHtml");
    assert_eq!(r.result_text("text/html").as_deref(), Some("<b>hi</b>"), "{:?}", r.error());
    assert_eq!(k.run("40 + 2").result_text("text/plain").as_deref(), Some("42"));
}
