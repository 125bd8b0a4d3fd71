//! Counting events per key in this process, a minute at a time: what keeps one source of
//! refused notifications from filling the database. (Sign-ins are throttled in the database,
//! shared by every process: `access`.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct PerMinute {
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl PerMinute {
    /// Count one event of `key`: whether it is within `max` this minute.
    pub fn allow(&self, key: &str, max: u32) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < MINUTE);
        }
        let e = seen.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(e.0) >= MINUTE {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= max
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_per_key() {
        let t = super::PerMinute::default();
        assert!((0..3).all(|_| t.allow("a", 3)));
        assert!(!t.allow("a", 3));
        assert!(t.allow("b", 3));
    }
}
