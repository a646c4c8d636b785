//! SIGINT and SIGTERM as a cancellation the apply flow checks (DESIGN
//! section 10): the one place that turns signals into data.
//!
//! [`Signals::install`] replaces the default "die at once" of both signals
//! for the rest of the process: a thread with its own small runtime counts
//! them. The apply flow then asks, at each step, whether one arrived
//! ([`Signals::received`]), and while a request is in flight it races the
//! request against [`Signals::beyond`]. Either kind counts as "a signal"; the
//! exit code is that of the first one (130 for SIGINT, 143 for SIGTERM, as a
//! shell reports a process killed by it).
//!
//! Only `apply` installs it: every other command stops on a signal as any
//! Unix program does, which is right for commands that write nothing or
//! write atomically.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use tokio::sync::Notify;

/// Which signal arrived first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ctrl-C.
    Interrupt,
    /// A CI job cancelled, `kill`.
    Terminate,
}

impl Kind {
    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Interrupt => "SIGINT",
            Kind::Terminate => "SIGTERM",
        }
    }

    /// 128 + the signal number, as a shell reports it.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Kind::Interrupt => ExitCode::from(130),
            Kind::Terminate => ExitCode::from(143),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    count: AtomicU32,
    /// 0 = none yet, 1 = SIGINT, 2 = SIGTERM.
    first: AtomicU8,
    notify: Notify,
}

/// The signals this process has received since [`Signals::install`].
#[derive(Debug, Clone)]
pub struct Signals {
    shared: Arc<Shared>,
}

impl Signals {
    /// Starts counting SIGINT and SIGTERM (they no longer end the process).
    pub fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let shared = Arc::new(Shared::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // The handlers are registered here, before the thread starts, so no
        // signal can arrive between "installed" and "listening".
        let (mut int, mut term) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        let counter = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("orgform-signals".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        let kind = tokio::select! {
                            Some(()) = int.recv() => 1,
                            Some(()) = term.recv() => 2,
                            else => break,
                        };
                        let _ = counter.first.compare_exchange(
                            0,
                            kind,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                        counter.count.fetch_add(1, Ordering::SeqCst);
                        counter.notify.notify_waiters();
                    }
                });
            })?;
        Ok(Signals { shared })
    }

    /// How many signals arrived so far.
    pub fn count(&self) -> u32 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The first signal, if any arrived.
    pub fn received(&self) -> Option<Kind> {
        match self.shared.first.load(Ordering::SeqCst) {
            1 => Some(Kind::Interrupt),
            2 => Some(Kind::Terminate),
            _ => None,
        }
    }

    /// Resolves when the count goes above `seen` (at once if it already is).
    pub async fn beyond(&self, seen: u32) {
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() > seen {
                return;
            }
            notified.await;
        }
    }
}
