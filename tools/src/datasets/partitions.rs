//! Hive-style date partitions: a key segment `dt=YYYY-MM-DD` (or `date=`) holds the rows of that
//! UTC day.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::records::Window;

/// Partition keys read as days.
const KEYS: [&str; 2] = ["dt", "date"];

/// Whether the object at `key` may hold rows in `window`: its day partitions all meet it (an
/// object without one may).
pub fn meets(key: &str, window: Window) -> bool {
    key.split('/').all(|segment| {
        let Some((name, value)) = segment.split_once('=') else {
            return true;
        };
        if !KEYS.contains(&name) {
            return true;
        }
        let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
            return true;
        };
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
        let end = start + chrono::Duration::days(1);
        start < window.to && end > window.from
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_meets_the_days_it_overlaps() {
        let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        let w = Window {
            from: at(5, 12),
            to: at(6, 12),
        };
        assert!(meets("preds/dt=2026-12-05/part-0.parquet", w));
        assert!(meets("preds/dt=2026-12-06/part-0.parquet", w));
        assert!(!meets("preds/dt=2026-12-04/part-0.parquet", w));
        assert!(!meets("preds/dt=2026-12-07/part-0.parquet", w));
        assert!(!meets("preds/region=eu/date=2026-12-01/x.parquet", w));
        // Not a day partition: may hold anything.
        assert!(meets("preds/region=eu/x.parquet", w));
        assert!(meets("preds/dt=latest/x.parquet", w));
        // A window ending at midnight does not reach the next day.
        let to_midnight = Window {
            from: at(5, 12),
            to: at(6, 0),
        };
        assert!(!meets("dt=2026-12-06/x.parquet", to_midnight));
    }
}
