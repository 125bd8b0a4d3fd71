//! The sandbox's clock: real time shifted by an offset, or frozen. Tests travel in time
//! (auth expiry, cancel kinds across a Japan-time midnight or month end) through the control
//! API.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, Copy, Default)]
struct Setting {
    offset: SignedDuration,
    frozen: Option<Timestamp>,
}

#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<Mutex<Setting>>);

impl Clock {
    fn get(&self) -> Setting {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> Timestamp {
        let s = self.get();
        match s.frozen {
            Some(t) => t,
            None => Timestamp::now()
                .checked_add(s.offset)
                .unwrap_or(Timestamp::MAX),
        }
    }

    /// Jump to `t`; the clock then runs on from there (or stays, if `freeze`).
    pub fn set(&self, t: Timestamp, freeze: bool) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if freeze {
            s.frozen = Some(t);
        } else {
            s.frozen = None;
            s.offset = t.duration_since(Timestamp::now());
        }
    }

    pub fn advance(&self, d: SignedDuration) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match s.frozen.as_mut() {
            Some(t) => *t = t.checked_add(d).unwrap_or(Timestamp::MAX),
            None => s.offset = s.offset.checked_add(d).unwrap_or(s.offset),
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.get().frozen.is_some()
    }
}

/// Japan business dates (fixed +09:00; no DST since 1951).
pub fn jst_date(t: Timestamp) -> jiff::civil::Date {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9)))
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_freeze_advance() {
        let c = Clock::default();
        let t: Timestamp = "2024-08-31T14:59:00Z".parse().unwrap();
        c.set(t, true);
        assert_eq!(c.now(), t);
        c.advance(SignedDuration::from_mins(2));
        assert_eq!(jst_date(c.now()), jiff::civil::date(2024, 9, 1));
    }
}
