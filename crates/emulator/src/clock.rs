//! Simulated clock. Run states are computed lazily from simulated timestamps, so the whole
//! time-scale feature reduces to this mapping from real elapsed time to simulated epoch ms.

use std::sync::RwLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy)]
struct Anchor {
    real: Instant,
    sim_ms: f64,
    scale: f64,
}

/// Maps real time to simulated epoch milliseconds at a (changeable) speed.
#[derive(Debug)]
pub struct SimClock {
    anchor: RwLock<Anchor>,
}

impl SimClock {
    /// A clock that starts at the current wall-clock time and runs `scale` times faster.
    pub fn new(scale: f64) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0);
        Self {
            anchor: RwLock::new(Anchor {
                real: Instant::now(),
                sim_ms: wall,
                scale: sanitize(scale),
            }),
        }
    }

    fn read(&self) -> Anchor {
        *self.anchor.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Simulated "now" in epoch milliseconds (what the API reports as timestamps).
    pub fn now_ms(&self) -> i64 {
        let a = self.read();
        (a.sim_ms + a.real.elapsed().as_secs_f64() * 1000.0 * a.scale) as i64
    }

    /// Current speed (simulated seconds per real second).
    pub fn scale(&self) -> f64 {
        self.read().scale
    }

    /// Change speed without making simulated time jump: re-anchor at the current instant.
    pub fn set_scale(&self, scale: f64) {
        let mut a = self.anchor.write().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        a.sim_ms += now.duration_since(a.real).as_secs_f64() * 1000.0 * a.scale;
        a.real = now;
        a.scale = sanitize(scale);
    }

    /// Hold simulated time still (until the next [`SimClock::set_scale`]): a transitional state
    /// (a cluster PENDING, a pipeline STOPPING) then stays observable however late the
    /// observer's read comes, which is what a test on a loaded machine needs to assert it.
    pub fn freeze(&self) {
        let mut a = self.anchor.write().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        a.sim_ms += now.duration_since(a.real).as_secs_f64() * 1000.0 * a.scale;
        a.real = now;
        a.scale = 0.0;
    }

    /// Move simulated time forward by `ms` at once. With a frozen clock this steps a run, a
    /// cluster or a pipeline from one state to the next exactly, so a test observes every state
    /// however slowly it polls.
    pub fn advance(&self, ms: u64) {
        let mut a = self.anchor.write().unwrap_or_else(|e| e.into_inner());
        a.sim_ms += ms as f64;
    }
}

fn sanitize(scale: f64) -> f64 {
    if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    }
}

/// Real wall-clock epoch milliseconds (request log timestamps are real, not simulated).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
