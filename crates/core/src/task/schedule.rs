//! Cron schedules in a time zone: parsed and validated when a tasks file is
//! applied, and the next fire time computed DST-correctly (croner's
//! OCPS/Vixie rules on jiff's zoned arithmetic: a time that does not exist
//! on a spring-forward day fires at the first valid time after the gap; a
//! repeated time on a fall-back day fires once).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// When a task starts by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Five-field cron expression (minute hour day-of-month month
    /// day-of-week), e.g. `0 6 * * 1-5`.
    pub cron: String,
    /// IANA time zone the expression is read in, e.g. `Europe/Amsterdam`.
    pub timezone: String,
}

impl Schedule {
    /// Checks the expression and the time zone; the error says which.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        parse_cron(&self.cron).map_err(|e| ("schedule.cron", e))?;
        zone(&self.timezone).map_err(|e| ("schedule.timezone", e))?;
        Ok(())
    }

    /// The first fire time strictly after `after`, in the schedule's zone.
    pub fn next_after(&self, after: Timestamp) -> Result<jiff::Zoned, String> {
        let cron = parse_cron(&self.cron)?;
        let tz = zone(&self.timezone)?;
        let start = after.to_zoned(tz);
        cron.find_next_occurrence(&start, false)
            .map_err(|e| format!("cron {:?} has no next time: {e}", self.cron))
    }
}

fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    if expr.split_whitespace().count() != 5 {
        return Err(format!(
            "{expr:?} is not a five-field cron expression (minute hour day-of-month month day-of-week), e.g. \"0 6 * * 1-5\""
        ));
    }
    croner::parser::CronParser::builder()
        .build()
        .parse(expr)
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))
}

fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!(
            "{name:?} is not a known time zone; use an IANA name such as Europe/Amsterdam or UTC"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn next_fire_across_dst_in_two_zones() {
        // Amsterdam springs forward on 2027-03-28 at 02:00 → 03:00.
        let ams = Schedule {
            cron: "30 2 * * *".into(),
            timezone: "Europe/Amsterdam".into(),
        };
        let next = ams.next_after(at("2027-03-27T12:00:00Z")).unwrap();
        assert_eq!(
            next.to_string(),
            "2027-03-28T03:00:00+02:00[Europe/Amsterdam]"
        );
        let after = ams.next_after(next.timestamp()).unwrap();
        assert_eq!(
            after.to_string(),
            "2027-03-29T02:30:00+02:00[Europe/Amsterdam]"
        );
        // New York falls back on 2027-11-07 at 02:00 → 01:00: 01:30 fires once.
        let ny = Schedule {
            cron: "30 1 * * *".into(),
            timezone: "America/New_York".into(),
        };
        let first = ny.next_after(at("2027-11-07T04:00:00Z")).unwrap();
        assert_eq!(
            first.to_string(),
            "2027-11-07T01:30:00-04:00[America/New_York]"
        );
        let second = ny.next_after(first.timestamp()).unwrap();
        assert_eq!(
            second.to_string(),
            "2027-11-08T01:30:00-05:00[America/New_York]"
        );
        // Weekdays at 06:00 in Amsterdam, from a Saturday.
        let weekdays = Schedule {
            cron: "0 6 * * 1-5".into(),
            timezone: "Europe/Amsterdam".into(),
        };
        let monday = weekdays.next_after(at("2027-01-02T12:00:00Z")).unwrap();
        assert_eq!(
            monday.to_string(),
            "2027-01-04T06:00:00+01:00[Europe/Amsterdam]"
        );
    }

    #[test]
    fn bad_cron_and_zone_are_named() {
        let bad = Schedule {
            cron: "0 25 * * *".into(),
            timezone: "UTC".into(),
        };
        assert_eq!(bad.validate().unwrap_err().0, "schedule.cron");
        let short = Schedule {
            cron: "0 6 * *".into(),
            timezone: "UTC".into(),
        };
        assert!(short.validate().unwrap_err().1.contains("five-field"));
        let zone = Schedule {
            cron: "0 6 * * *".into(),
            timezone: "Mars/Olympus".into(),
        };
        assert_eq!(zone.validate().unwrap_err().0, "schedule.timezone");
    }
}
