//! The manager against fault-injecting workers at the `Spawner` seam: a
//! scripted worker that sleeps, prints, loops until interrupted or crashes;
//! one that never becomes ready. The real worker is tested through the
//! server's API (tests/integration/kernel.rs) and in flywheel-kernel.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flywheel_domain::UserId;
use flywheel_kernel_manager::{
    Execution, ExecutionStatus, KernelError, KernelManager, KernelSession, KernelState, ManagerConfig, SessionEvent,
    Spawner, WorkerEvent, WorkerIo,
};
use flywheel_kernel_protocol::{Event, Output, PROTOCOL_VERSION, Request, Status, StreamName};
use tokio::sync::{mpsc, oneshot};

/// A worker that obeys a tiny script language instead of Rust:
/// `sleep MS`, `print TEXT`, `flood N` (N lines), `loop` (until interrupted), `crash`.
struct Scripted {
    spawned: AtomicUsize,
    ready: bool,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Self { spawned: AtomicUsize::new(0), ready: true })
    }
    fn never_ready() -> Arc<Self> {
        Arc::new(Self { spawned: AtomicUsize::new(0), ready: false })
    }
    fn spawned(&self) -> usize {
        self.spawned.load(Ordering::SeqCst)
    }
}

impl Spawner for Scripted {
    fn spawn(&self, dir: &Path) -> std::io::Result<WorkerIo> {
        assert!(dir.is_dir(), "the manager makes the session directory first");
        std::fs::write(dir.join("marker"), "worker files")?;
        self.spawned.fetch_add(1, Ordering::SeqCst);
        let (requests, mut request_rx) = mpsc::unbounded_channel::<Request>();
        let (event_tx, events) = mpsc::unbounded_channel();
        let (kill, mut killed) = oneshot::channel::<()>();
        let ready = self.ready;
        tokio::spawn(async move {
            let send = |e: Event| {
                let _ = event_tx.send(WorkerEvent::Event(e));
            };
            if ready {
                send(Event::Ready { protocol: PROTOCOL_VERSION, sandbox: None });
            }
            loop {
                let request = tokio::select! {
                    r = request_rx.recv() => r,
                    _ = &mut killed => return,
                };
                let Some(Request::Execute { id, code }) = request else { return };
                let out =
                    |text: String| Event::Output { id, output: Output::Stream { name: StreamName::Stdout, text } };
                let (word, arg) = code.split_once(' ').unwrap_or((code.as_str(), ""));
                let status = match word {
                    "sleep" => {
                        tokio::time::sleep(Duration::from_millis(arg.parse().unwrap())).await;
                        Status::Ok
                    }
                    "print" => {
                        send(out(format!("{arg}\n")));
                        Status::Ok
                    }
                    "flood" => {
                        for i in 0..arg.parse::<usize>().unwrap() {
                            send(out(format!("line {i:06}\n")));
                        }
                        Status::Ok
                    }
                    "loop" => loop {
                        tokio::select! {
                            r = request_rx.recv() => if matches!(r, Some(Request::Interrupt)) { break Status::Interrupted },
                            _ = &mut killed => return,
                        }
                    },
                    "crash" => {
                        let _ = event_tx.send(WorkerEvent::Exited("the kernel worker exited (signal 9)".into()));
                        return;
                    }
                    _ => Status::Error,
                };
                send(Event::Done { id, status, elapsed_ms: 1, kernel_ends: false });
            }
        });
        Ok(WorkerIo { requests, events, _kill_on_drop: Some(kill) })
    }
}

fn config(dir: &Path) -> ManagerConfig {
    let mut c = ManagerConfig::new(dir.join("sessions"));
    c.pool_size = 0;
    c.max_concurrent_cells = 1;
    c.cell_time_limit = Duration::from_secs(30);
    c.ready_timeout = Duration::from_secs(10);
    c
}

fn manager(config: ManagerConfig, spawner: Arc<dyn Spawner>) -> KernelManager {
    let m = KernelManager::new(config);
    m.start().expect("sessions directory");
    m.set_spawner(spawner);
    m
}

fn user() -> UserId {
    UserId(uuid::Uuid::new_v4())
}

/// Waits until execution `id` finishes.
async fn finished(session: &KernelSession, id: u64) -> Execution {
    for _ in 0..1000 {
        let e = session.execution(id).expect("execution exists");
        if e.status.is_finished() {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} did not finish: {:?}", session.execution(id));
}

async fn kernel_becomes(session: &KernelSession, state: KernelState) {
    for _ in 0..500 {
        if session.view().kernel == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("kernel never became {state:?}: {:?}", session.view());
}

fn stderr_text(e: &Execution) -> String {
    e.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Stream { name: StreamName::Stderr, text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn error_of(e: &Execution) -> Option<(String, String)> {
    e.outputs.iter().find_map(|o| match o {
        Output::Error { ename, evalue, .. } => Some((ename.clone(), evalue.clone())),
        _ => None,
    })
}

#[tokio::test]
async fn cells_beyond_the_concurrency_limit_wait_in_order_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(config(dir.path()), Scripted::new());
    let (a, b) = (m.create_session(user()).unwrap(), m.create_session(user()).unwrap());
    let first = a.execute("sleep 400".into()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = b.execute("print hi".into()).unwrap();
    let third = b.execute("print again".into()).unwrap();
    assert_eq!(a.execution(first.id).unwrap().status, ExecutionStatus::Running);
    let waiting = b.execution(second.id).unwrap();
    assert_eq!((waiting.status, waiting.queue_position), (ExecutionStatus::Queued, Some(1)));
    assert_eq!(b.execution(third.id).unwrap().queue_position, Some(2));

    assert_eq!(finished(&a, first.id).await.status, ExecutionStatus::Ok);
    let e = finished(&b, second.id).await;
    assert_eq!(e.outputs, vec![Output::Stream { name: StreamName::Stdout, text: "hi\n".into() }]);
    assert_eq!(finished(&b, third.id).await.status, ExecutionStatus::Ok);
}

#[tokio::test]
async fn a_cell_over_the_time_limit_is_stopped_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.cell_time_limit = Duration::from_millis(300);
    let m = manager(c, Scripted::new());
    let s = m.create_session(user()).unwrap();
    let e = s.execute("loop".into()).unwrap();
    let e = finished(&s, e.id).await;
    assert_eq!(e.status, ExecutionStatus::Interrupted);
    assert!(stderr_text(&e).contains("longer than the time limit of 0.3 s"), "{:?}", e.outputs);
    let next = s.execute("print still here".into()).unwrap();
    assert_eq!(finished(&s, next.id).await.status, ExecutionStatus::Ok, "the session stays usable");
}

#[tokio::test]
async fn an_interrupt_stops_the_running_cell_and_the_queue_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(config(dir.path()), Scripted::new());
    let s = m.create_session(user()).unwrap();
    let running = s.execute("loop".into()).unwrap();
    let queued = s.execute("print never".into()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.interrupt();
    assert_eq!(finished(&s, running.id).await.status, ExecutionStatus::Interrupted);
    let q = finished(&s, queued.id).await;
    assert_eq!(q.status, ExecutionStatus::Interrupted);
    assert_eq!(error_of(&q).map(|e| e.0).as_deref(), Some("NotRun"));
    assert!(!q.outputs.iter().any(|o| matches!(o, Output::Stream { name: StreamName::Stdout, .. })), "it did not run");
}

#[tokio::test]
async fn a_crashed_kernel_fails_its_cell_clearly_and_the_next_cell_gets_a_new_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let spawner = Scripted::new();
    let m = manager(config(dir.path()), spawner.clone());
    let s = m.create_session(user()).unwrap();
    let e = s.execute("crash".into()).unwrap();
    let e = finished(&s, e.id).await;
    assert_eq!(e.status, ExecutionStatus::Error);
    let (ename, evalue) = error_of(&e).unwrap();
    assert_eq!(ename, "KernelError");
    assert!(evalue.contains("signal 9") && evalue.contains("Variables from earlier cells are lost"), "{evalue}");
    kernel_becomes(&s, KernelState::Dead).await;

    let again = s.execute("print back".into()).unwrap();
    let again = finished(&s, again.id).await;
    assert_eq!(again.status, ExecutionStatus::Ok);
    assert!(stderr_text(&again).contains("A new kernel was started"), "{:?}", again.outputs);
    assert_eq!(spawner.spawned(), 2);
}

#[tokio::test]
async fn a_kernel_that_never_starts_fails_the_waiting_cells_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.ready_timeout = Duration::from_millis(300);
    let m = manager(c, Scripted::never_ready());
    let s = m.create_session(user()).unwrap();
    assert_eq!(s.view().kernel, KernelState::Starting);
    let e = s.execute("print hi".into()).unwrap();
    let e = finished(&s, e.id).await;
    assert_eq!(e.status, ExecutionStatus::Interrupted);
    assert!(error_of(&e).unwrap().1.contains("did not start within"), "{:?}", e.outputs);
    assert_eq!(s.view().kernel, KernelState::Dead);
}

#[tokio::test]
async fn an_idle_kernel_is_culled_but_the_session_and_its_outputs_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.idle_timeout = Duration::from_millis(200);
    c.cull_interval = Duration::from_millis(50);
    let spawner = Scripted::new();
    let m = manager(c, spawner.clone());
    let s = m.create_session(user()).unwrap();
    let first = s.execute("print one".into()).unwrap();
    finished(&s, first.id).await;
    kernel_becomes(&s, KernelState::Culled).await;
    assert!(s.view().kernel_message.unwrap().contains("idle"));
    assert_eq!(s.execution(first.id).unwrap().outputs.len(), 1, "outputs are kept");
    let sessions_dir = dir.path().join("sessions");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(std::fs::read_dir(&sessions_dir).unwrap().count(), 0, "the worker's directory is removed");

    let next = s.execute("print two".into()).unwrap();
    let next = finished(&s, next.id).await;
    assert!(stderr_text(&next).contains("stopped after being idle"), "{:?}", next.outputs);
    assert_eq!(spawner.spawned(), 2);
}

#[tokio::test]
async fn output_beyond_the_cap_is_dropped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.limits.max_text_bytes = 1000;
    let m = manager(c, Scripted::new());
    let s = m.create_session(user()).unwrap();
    let e = s.execute("flood 10000".into()).unwrap();
    let e = finished(&s, e.id).await;
    assert!(e.truncated);
    let stdout: usize = e
        .outputs
        .iter()
        .map(|o| match o {
            Output::Stream { name: StreamName::Stdout, text } => text.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(stdout, 1000);
    assert!(stderr_text(&e).contains("more than 1000 bytes"));
}

#[tokio::test]
async fn sessions_belong_to_their_owner_and_are_bounded_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_sessions_per_user = 2;
    c.max_cell_bytes = 10;
    let m = manager(c, Scripted::new());
    let (ada, bob) = (user(), user());
    let s = m.create_session(ada).unwrap();
    assert!(m.session(ada, &s.id).is_ok());
    assert_eq!(m.session(bob, &s.id).err(), Some(KernelError::NotFound));
    assert_eq!(m.close(bob, &s.id), Err(KernelError::NotFound));
    assert!(m.sessions(bob).is_empty());
    assert!(matches!(s.execute("print 0123456789".into()), Err(KernelError::CellTooLarge { limit: 10 })));

    m.create_session(ada).unwrap();
    assert_eq!(m.create_session(ada).err(), Some(KernelError::TooManySessions { limit: 2 }));
    m.close(ada, &s.id).unwrap();
    assert_eq!(m.session(ada, &s.id).err(), Some(KernelError::NotFound));
    assert!(m.create_session(ada).is_ok(), "closing one frees a place");
}

#[tokio::test]
async fn the_pool_hands_out_a_ready_kernel_and_refills() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.pool_size = 1;
    c.warmup_cell = "print warm".into();
    let spawner = Scripted::new();
    let m = manager(c, spawner.clone());
    for _ in 0..200 {
        if m.pooled() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(m.pooled(), 1);
    let s = m.create_session(user()).unwrap();
    assert_eq!(s.view().kernel, KernelState::Idle, "no wait for the kernel to start");
    let e = s.execute("print first".into()).unwrap();
    let e = finished(&s, e.id).await;
    assert_eq!(
        e.outputs,
        vec![Output::Stream { name: StreamName::Stdout, text: "first\n".into() }],
        "no warm-up output"
    );
    for _ in 0..200 {
        if m.pooled() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((m.pooled(), spawner.spawned()), (1, 2), "refilled");
}

#[tokio::test]
async fn watchers_see_every_output_and_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(config(dir.path()), Scripted::new());
    let s = m.create_session(user()).unwrap();
    let blocker = s.execute("sleep 200".into()).unwrap();
    let e = s.execute("flood 3".into()).unwrap();
    let (snapshot, mut events) = s.watch(e.id).unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Queued);
    let mut lines = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap() {
            SessionEvent::Output { execution, output: Output::Stream { text, .. } } if execution == e.id => {
                lines.push_str(&text);
            }
            SessionEvent::Done { execution, status, .. } if execution == e.id => {
                assert_eq!(status, ExecutionStatus::Ok);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(lines, "line 000000\nline 000001\nline 000002\n");
    assert_eq!(finished(&s, blocker.id).await.status, ExecutionStatus::Ok);
}

#[tokio::test]
async fn unavailable_kernels_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let m = KernelManager::new(config(dir.path()));
    m.start().unwrap();
    m.set_unavailable("The kernel worker is not built: run `cargo build -p flywheel-kernel`.");
    match m.create_session(user()) {
        Err(KernelError::Unavailable(why)) => assert!(why.contains("cargo build")),
        other => panic!("expected unavailable, got {:?}", other.map(|s| s.view())),
    }
}
