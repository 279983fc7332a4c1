//! Client-side rate limiter (GCRA via `governor`) driven by tokio's clock, so waiting goes
//! through `tokio::time::sleep` and is testable under `tokio::time::pause()`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter as Gcra};
use reqwest::Method;

/// Monotonic clock reading tokio's (pausable) time as an offset from creation.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Which queue a request waits in for its permit. Reads (status
/// listings, `runs/get`) must not wait behind a dispatcher's batch of
/// concurrent submits: at 15 requests/s, 32 submits in flight made each
/// tracking read wait 2–5 s, and runs ending during a send phase were
/// detected only when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// `GET`/`HEAD`.
    Read,
    /// Everything else (submits, cancels, uploads).
    Write,
}

impl Lane {
    /// The lane of a request with `method`.
    pub fn of(method: &Method) -> Lane {
        if *method == Method::GET || *method == Method::HEAD {
            Lane::Read
        } else {
            Lane::Write
        }
    }
}

/// Limits requests per second for one workspace (shared by every clone of a client).
pub struct RateLimiter {
    inner: Gcra<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    per_second: NonZeroU32,
    /// Reads waiting, first come first served; only the first waits for a turn.
    reads: tokio::sync::Mutex<()>,
    /// Writes waiting, likewise.
    writes: tokio::sync::Mutex<()>,
    /// The turn at the next permit, between the first read and the first
    /// write (fair, so the two alternate while both lanes have waiters).
    turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_second", &self.per_second)
            .finish()
    }
}

impl RateLimiter {
    /// `per_second` requests per second with a burst of the same size (one second's worth).
    pub fn new(per_second: NonZeroU32) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let inner = Gcra::direct_with_clock(Quota::per_second(per_second), clock.clone());
        RateLimiter {
            inner,
            clock,
            per_second,
            reads: tokio::sync::Mutex::new(()),
            writes: tokio::sync::Mutex::new(()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// `per_second` requests per second (fractions allowed) with a burst of
    /// one second's worth (at least one).
    pub fn with_rate(per_second: f64) -> Self {
        let clock = TokioClock {
            origin: tokio::time::Instant::now(),
        };
        let rate = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let burst = NonZeroU32::new(rate.floor().clamp(1.0, f64::from(u32::MAX)) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate))
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        RateLimiter {
            inner: Gcra::direct_with_clock(quota, clock.clone()),
            clock,
            per_second: burst,
            reads: tokio::sync::Mutex::new(()),
            writes: tokio::sync::Mutex::new(()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits until a request of `lane` may be sent. Within a lane callers
    /// go in arrival order (tokio's mutex is fair) and only the lane's
    /// first one competes for the turn, which the two lanes' first callers
    /// take alternately. So a read waits for at most one write's permit
    /// plus the reads ahead of it, and a write for at most one read's:
    /// neither lane starves the other, and either has the whole rate when
    /// the other is idle. (Each caller sleeping on its own raced the
    /// others at every wake-up: under a steady backlog some waited many
    /// times their share, 32 callers on an 18/s endpoint: median 60 ms,
    /// p99 17 s.)
    pub async fn acquire(&self, lane: Lane) {
        let queue = match lane {
            Lane::Read => &self.reads,
            Lane::Write => &self.writes,
        };
        let _first_in_lane = queue.lock().await;
        // Released before the lane, so the other lane's first caller
        // (queued already) takes the next turn before this lane's next.
        let _turn = self.turn.lock().await;
        loop {
            match self.inner.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_micros(100))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn caps_throughput() {
        let rl = RateLimiter::new(NonZeroU32::new(10).expect("nz"));
        let start = tokio::time::Instant::now();
        for _ in 0..30 {
            rl.acquire(Lane::Write).await;
        }
        // 10 burst immediately, then 20 more at 10/s ⇒ ~2 s.
        let el = start.elapsed();
        assert!(el >= Duration::from_millis(1900), "{el:?}");
        assert!(el <= Duration::from_millis(2200), "{el:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let rl = std::sync::Arc::new(RateLimiter::new(NonZeroU32::new(1).expect("nz")));
        rl.acquire(Lane::Write).await;
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (rl, order) = (rl.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                rl.acquire(Lane::Write).await;
                order.lock().expect("lock").push(i);
            }));
            // Each caller arrives after the previous one is queued.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.expect("join");
        }
        assert_eq!(*order.lock().expect("lock"), [0, 1, 2, 3, 4]);
    }

    /// Spawns one caller per lane in `lanes`, in that order, each queued
    /// before the next arrives, behind a permit just taken; returns the
    /// order they were served in.
    async fn served_order(rl: RateLimiter, lanes: &[(Lane, &'static str)]) -> Vec<&'static str> {
        let rl = std::sync::Arc::new(rl);
        rl.acquire(Lane::Write).await;
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for &(lane, name) in lanes {
            let (rl, order) = (rl.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                rl.acquire(lane).await;
                order.lock().expect("lock").push(name);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.expect("join");
        }
        order.lock().expect("lock").clone()
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_waits_for_one_write_not_for_the_write_backlog() {
        let rl = RateLimiter::new(NonZeroU32::new(1).expect("nz"));
        let mut lanes: Vec<(Lane, &str)> = ["w0", "w1", "w2", "w3", "w4"]
            .into_iter()
            .map(|w| (Lane::Write, w))
            .collect();
        lanes.push((Lane::Read, "r0"));
        assert_eq!(
            served_order(rl, &lanes).await,
            ["w0", "r0", "w1", "w2", "w3", "w4"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn both_lanes_backlogged_alternate() {
        let rl = RateLimiter::new(NonZeroU32::new(1).expect("nz"));
        let lanes = [
            (Lane::Read, "r0"),
            (Lane::Read, "r1"),
            (Lane::Read, "r2"),
            (Lane::Write, "w0"),
            (Lane::Write, "w1"),
            (Lane::Write, "w2"),
        ];
        // Neither lane starves the other: a write is served every other
        // permit however many reads wait, and the reverse.
        assert_eq!(
            served_order(rl, &lanes).await,
            ["r0", "w0", "r1", "w1", "r2", "w2"]
        );
    }

    #[test]
    fn gets_and_heads_are_reads() {
        assert_eq!(Lane::of(&Method::GET), Lane::Read);
        assert_eq!(Lane::of(&Method::HEAD), Lane::Read);
        assert_eq!(Lane::of(&Method::POST), Lane::Write);
    }
}
