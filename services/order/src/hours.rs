//! A branch's opening hours and pause: when it takes orders.
//!
//! The week is one opening per weekday at most, in Asia/Seoul: `opens`–`closes`, where a
//! `closes` at or before `opens` runs past midnight into the next day (11:00–02:00), and equal
//! times mean the whole day. A weekday without an opening is closed. A branch with no hours at
//! all is open around the clock (as every branch was before hours existed). Staff can pause new
//! orders, until a time or until they resume.
//!
//! Everything here is pure: the instant is passed in, so the tests walk the week.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};

use crate::http::seoul;

/// One weekday's opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    pub day: Weekday,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

/// What decides whether a branch takes orders.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Empty: open around the clock.
    pub week: Vec<Opening>,
    /// Paused by staff…
    pub paused: bool,
    /// …until then (`None`: until they resume).
    pub paused_until: Option<DateTime<Utc>>,
}

/// Whether a branch takes orders at an instant, and when that changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenState {
    pub open_now: bool,
    pub paused: bool,
    /// Closed or paused: when it takes orders again (`None`: not by itself — closed every
    /// day, or paused until resumed).
    pub opens_at: Option<DateTime<Utc>>,
    /// Open: when it stops (`None`: open around the clock).
    pub closes_at: Option<DateTime<Utc>>,
}

/// The openings as instants, for the days from `from` days before `at`'s Seoul date to `to`
/// days after, in order.
fn intervals(
    week: &[Opening],
    at: DateTime<Utc>,
    from: i64,
    to: i64,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let today = at.with_timezone(&seoul()).date_naive();
    let mut out = vec![];
    for offset in -from..=to {
        let date = today + Duration::days(offset);
        for o in week.iter().filter(|o| o.day == date.weekday()) {
            let start = seoul()
                .from_local_datetime(&date.and_time(o.opens))
                .single()
                .expect("a fixed offset has no gaps")
                .with_timezone(&Utc);
            let mut end = seoul()
                .from_local_datetime(&date.and_time(o.closes))
                .single()
                .expect("a fixed offset has no gaps")
                .with_timezone(&Utc);
            if end <= start {
                end += Duration::days(1);
            }
            out.push((start, end));
        }
    }
    out.sort();
    out
}

impl Schedule {
    fn paused_at(&self, at: DateTime<Utc>) -> bool {
        self.paused && self.paused_until.is_none_or(|until| at < until)
    }

    /// Whether the hours (not the pause) have it open at `at`, and until when.
    fn hours_at(&self, at: DateTime<Utc>) -> (bool, Option<DateTime<Utc>>) {
        if self.week.is_empty() {
            return (true, None);
        }
        // An opening that touches the next one (22:00–00:00, then 00:00–02:00) runs on.
        let mut end = None;
        for (s, e) in intervals(&self.week, at, 1, 8) {
            match end {
                None if s <= at && at < e => end = Some(e),
                Some(cur) if s <= cur && e > cur => end = Some(e),
                _ => {}
            }
        }
        (end.is_some(), end)
    }

    /// The first instant at or after `at` the hours have it open.
    fn next_open_hours(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.hours_at(at).0 {
            return Some(at);
        }
        intervals(&self.week, at, 1, 8)
            .into_iter()
            .map(|(s, _)| s)
            .find(|s| *s > at)
    }

    pub fn state(&self, at: DateTime<Utc>) -> OpenState {
        let (hours_open, closes_at) = self.hours_at(at);
        let paused = self.paused_at(at);
        if hours_open && !paused {
            return OpenState {
                open_now: true,
                paused: false,
                opens_at: None,
                closes_at,
            };
        }
        let resumes = if paused { self.paused_until } else { Some(at) };
        OpenState {
            open_now: false,
            paused,
            opens_at: resumes.and_then(|r| self.next_open_hours(r)),
            closes_at: None,
        }
    }

    /// The last closing time at or before `at` (within the past week): PENDING orders placed
    /// before it are cancelled, the shop having closed on them.
    pub fn last_close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.week.is_empty() {
            return None;
        }
        let spans = intervals(&self.week, at, 8, 0);
        // A closing time is an end that no opening continues.
        spans
            .iter()
            .map(|(_, e)| *e)
            .filter(|e| *e <= at)
            .filter(|e| !spans.iter().any(|(s2, e2)| s2 <= e && e < e2))
            .max()
    }
}

/// Weekdays as the API writes them.
pub const DAYS: [(&str, Weekday); 7] = [
    ("MON", Weekday::Mon),
    ("TUE", Weekday::Tue),
    ("WED", Weekday::Wed),
    ("THU", Weekday::Thu),
    ("FRI", Weekday::Fri),
    ("SAT", Weekday::Sat),
    ("SUN", Weekday::Sun),
];

pub fn day_name(d: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, w)| *w == d)
        .map(|(n, _)| *n)
        .expect("every weekday")
}

pub fn parse_day(s: &str) -> Option<Weekday> {
    DAYS.iter().find(|(n, _)| *n == s).map(|(_, w)| *w)
}

/// ISO day number (Monday 1), as stored.
pub fn day_number(d: Weekday) -> i16 {
    d.number_from_monday() as i16
}

pub fn from_day_number(n: i16) -> Option<Weekday> {
    DAYS.iter().map(|(_, w)| *w).find(|w| day_number(*w) == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// Seoul local time on a day of the week of 2026-11-30 (a Monday).
    fn at(day: Weekday, h: u32, m: u32) -> DateTime<Utc> {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
            + Duration::days(day.num_days_from_monday() as i64);
        seoul()
            .from_local_datetime(&date.and_time(t(h, m)))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn week(days: &[Weekday], opens: NaiveTime, closes: NaiveTime) -> Vec<Opening> {
        days.iter()
            .map(|&day| Opening { day, opens, closes })
            .collect()
    }

    #[test]
    fn no_hours_is_open_around_the_clock_and_never_closes() {
        let s = Schedule::default();
        let st = s.state(at(Weekday::Sun, 3, 0));
        assert!(st.open_now && st.closes_at.is_none());
        assert_eq!(s.last_close(at(Weekday::Sun, 3, 0)), None);
    }

    #[test]
    fn open_in_hours_closed_outside_and_on_days_off() {
        use Weekday::*;
        // Monday to Saturday 11:00–22:00; Sunday closed.
        let s = Schedule {
            week: week(&[Mon, Tue, Wed, Thu, Fri, Sat], t(11, 0), t(22, 0)),
            ..Default::default()
        };
        let st = s.state(at(Tue, 12, 0));
        assert!(st.open_now);
        assert_eq!(st.closes_at, Some(at(Tue, 22, 0)));
        let st = s.state(at(Tue, 22, 0));
        assert!(!st.open_now, "closing time is closed");
        assert_eq!(st.opens_at, Some(at(Wed, 11, 0)));
        let st = s.state(at(Sat, 23, 0));
        assert_eq!(
            st.opens_at,
            Some(at(Mon, 11, 0) + Duration::days(7)),
            "Sunday off"
        );
        assert_eq!(s.last_close(at(Sun, 15, 0)), Some(at(Sat, 22, 0)));
        assert_eq!(s.last_close(at(Tue, 12, 0)), Some(at(Mon, 22, 0)));
    }

    #[test]
    fn an_opening_past_midnight_runs_into_the_next_day() {
        use Weekday::*;
        let s = Schedule {
            week: week(&[Fri], t(17, 0), t(2, 0)),
            ..Default::default()
        };
        let st = s.state(at(Sat, 1, 30));
        assert!(st.open_now);
        assert_eq!(st.closes_at, Some(at(Sat, 2, 0)));
        assert!(!s.state(at(Sat, 2, 0)).open_now);
        assert_eq!(s.last_close(at(Sat, 9, 0)), Some(at(Sat, 2, 0)));
    }

    #[test]
    fn openings_that_touch_run_on_and_a_whole_day_is_equal_times() {
        use Weekday::*;
        let mut w = week(&[Mon], t(0, 0), t(0, 0));
        w.extend(week(&[Tue], t(0, 0), t(3, 0)));
        let s = Schedule {
            week: w,
            ..Default::default()
        };
        let st = s.state(at(Mon, 23, 0));
        assert_eq!(st.closes_at, Some(at(Tue, 3, 0)));
        assert_eq!(
            s.last_close(at(Tue, 4, 0)),
            Some(at(Tue, 3, 0)),
            "midnight is no closing"
        );
    }

    #[test]
    fn a_pause_closes_until_its_end_or_until_resumed() {
        use Weekday::*;
        let hours = week(&[Mon, Tue], t(11, 0), t(22, 0));
        let s = Schedule {
            week: hours.clone(),
            paused: true,
            paused_until: Some(at(Mon, 13, 0)),
        };
        let st = s.state(at(Mon, 12, 0));
        assert!(!st.open_now && st.paused);
        assert_eq!(st.opens_at, Some(at(Mon, 13, 0)));
        assert!(s.state(at(Mon, 13, 0)).open_now, "the pause ran out");
        // Paused past closing: opens at the next opening after the pause.
        let s = Schedule {
            week: hours.clone(),
            paused: true,
            paused_until: Some(at(Mon, 23, 0)),
        };
        assert_eq!(s.state(at(Mon, 21, 0)).opens_at, Some(at(Tue, 11, 0)));
        // Until resumed: no time to give.
        let s = Schedule {
            week: hours,
            paused: true,
            paused_until: None,
        };
        let st = s.state(at(Mon, 12, 0));
        assert!(!st.open_now && st.opens_at.is_none());
    }

    #[test]
    fn day_names_and_numbers_round_trip() {
        for (name, day) in DAYS {
            assert_eq!(parse_day(name), Some(day));
            assert_eq!(parse_day(&name.to_lowercase()), None, "as written: MON");
            assert_eq!(day_name(day), name);
            assert_eq!(from_day_number(day_number(day)), Some(day));
        }
        assert_eq!(parse_day("FUN"), None);
    }
}
