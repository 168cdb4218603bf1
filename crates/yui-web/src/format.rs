//! Dates, times, ages and alert levels as a reader of each language writes
//! them. Times are shown in Japan time unless an event names its own zone.

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::i18n::{Lang, Words};

/// Japan time.
pub const TOKYO: Tz = chrono_tz::Asia::Tokyo;

/// The moment a form's `datetime-local` field (`2027-03-14T10:00`) names,
/// read as Japan time; `None` when it is not one.
pub fn local_input(s: &str) -> Option<DateTime<Tz>> {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok()?;
    TOKYO.from_local_datetime(&t).earliest()
}

fn weekday(lang: Lang, d: chrono::Weekday) -> &'static str {
    let i = d.num_days_from_monday() as usize;
    match lang {
        Lang::Ja => ["月", "火", "水", "木", "金", "土", "日"][i],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i],
        Lang::ZhHans => ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][i],
        Lang::ZhHant => ["週一", "週二", "週三", "週四", "週五", "週六", "週日"][i],
        Lang::Ko => ["월", "화", "수", "목", "금", "토", "일"][i],
    }
}

const EN_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A weekday's short name, Monday = 0 (calendar headers).
pub fn weekday_name(lang: Lang, monday_based: usize) -> &'static str {
    let d = chrono::Weekday::try_from(monday_based as u8).unwrap_or(chrono::Weekday::Mon);
    weekday(lang, d)
}

/// A date: 2027年2月3日(水), Wed 3 Feb 2027, 2027年2月3日 周三, 2027년 2월 3일 (수).
pub fn date<T: TimeZone>(lang: Lang, t: &DateTime<T>) -> String {
    let (y, m, d, w) = (t.year(), t.month(), t.day(), weekday(lang, t.weekday()));
    match lang {
        Lang::Ja => format!("{y}年{m}月{d}日({w})"),
        Lang::En => format!("{w} {d} {} {y}", EN_MONTHS[m as usize - 1]),
        Lang::ZhHans | Lang::ZhHant => format!("{y}年{m}月{d}日 {w}"),
        Lang::Ko => format!("{y}년 {m}월 {d}일 ({w})"),
    }
}

/// A month heading: 2027年2月, February 2027, 2027년 2월.
pub fn month(lang: Lang, year: i32, month: u32) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        Lang::En => format!("{} {year}", EN[(month as usize).clamp(1, 12) - 1]),
        Lang::Ko => format!("{year}년 {month}월"),
        _ => format!("{year}年{month}月"),
    }
}

/// A date and time in `tz`, with the zone's abbreviation when it is not
/// Japan time.
pub fn date_time(lang: Lang, ms: i64, tz: Tz) -> String {
    let Some(t) = tz.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    let zone = if tz == TOKYO {
        String::new()
    } else {
        format!(" ({})", t.format("%Z"))
    };
    format!("{} {:02}:{:02}{zone}", date(lang, &t), t.hour(), t.minute())
}

/// A time of day in `tz`: 10:00.
pub fn time(ms: i64, tz: Tz) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| format!("{:02}:{:02}", t.hour(), t.minute()))
        .unwrap_or_default()
}

/// A date (Japan time) from Unix ms.
pub fn day(lang: Lang, ms: i64) -> String {
    TOKYO
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| date(lang, &t))
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date as the reader writes it (the text itself when it is
/// not one).
pub fn ymd(lang: Lang, s: &str) -> String {
    match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => {
            let t = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
            date(lang, &t)
        }
        Err(_) => s.to_owned(),
    }
}

/// How long ago `then` was: "5 minutes ago" and so on.
pub fn age(w: &Words, now: i64, then: i64) -> String {
    let mins = (now - then).max(0) / 60_000;
    if mins < 1 {
        w.get("age-now")
    } else if mins < 60 {
        w.n("age-minutes", mins)
    } else if mins < 48 * 60 {
        w.n("board-age-hours", mins / 60)
    } else {
        w.n("age-days", mins / (24 * 60))
    }
}

/// 警戒レベル: the official colour (CSS class) of each level and its name.
/// Level 0 is "no alert". Colours follow the Cabinet Office guideline:
/// 5 black, 4 purple, 3 red, 2 yellow, 1 white.
pub fn alert_class(level: u32) -> &'static str {
    match level {
        5 => "alert-5",
        4 => "alert-4",
        3 => "alert-3",
        2 => "alert-2",
        1 => "alert-1",
        _ => "alert-0",
    }
}

/// The level's official name in the reader's language.
pub fn alert_name(w: &Words, level: u32) -> String {
    w.get(&format!("alert-{}", level.min(5)))
}

/// A quantity without a trailing `.0`.
pub fn quantity(q: f64) -> String {
    if q.fract() == 0.0 && q.abs() < 1e15 {
        format!("{}", q as i64)
    } else {
        format!("{q}")
    }
}

/// A quantity with its unit as it is written: a Japanese or Chinese counter
/// follows the number directly (500枚, 2人), a unit in Latin letters after a
/// space (500 kg, 20 boxes).
pub fn quantity_with_unit(q: f64, unit: &str) -> String {
    let unit = unit.trim();
    if unit.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("{} {unit}", quantity(q))
    } else {
        format!("{}{unit}", quantity(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_follows_the_number_and_a_latin_unit_a_space() {
        assert_eq!(quantity_with_unit(500.0, "枚"), "500枚");
        assert_eq!(quantity_with_unit(2.0, "人"), "2人");
        assert_eq!(quantity_with_unit(20.0, "boxes"), "20 boxes");
        assert_eq!(quantity_with_unit(1.5, "t"), "1.5 t");
        assert_eq!(quantity_with_unit(3.0, ""), "3");
        assert_eq!(quantity_with_unit(10.0, "%"), "10%");
    }

    #[test]
    fn a_form_time_is_read_as_japan_time() {
        let t = local_input("2027-02-03T10:00").expect("a datetime-local value");
        assert_eq!(t.timestamp_millis(), 1_801_616_400_000);
        for bad in [
            "",
            "2027-02-03",
            "2027-02-30T10:00",
            "10:00",
            "２０２７-02-03T10:00",
        ] {
            assert!(local_input(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn dates_read_as_each_language_writes_them() {
        // 2027-02-03T10:00+09:00
        let ms = 1_801_616_400_000;
        assert_eq!(date_time(Lang::Ja, ms, TOKYO), "2027年2月3日(水) 10:00");
        assert_eq!(date_time(Lang::En, ms, TOKYO), "Wed 3 Feb 2027 10:00");
        assert_eq!(date_time(Lang::Ko, ms, TOKYO), "2027년 2월 3일 (수) 10:00");
        assert_eq!(
            date_time(Lang::ZhHans, ms, TOKYO),
            "2027年2月3日 周三 10:00"
        );
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            date_time(Lang::En, ms, berlin),
            "Wed 3 Feb 2027 02:00 (CET)"
        );
        assert_eq!(ymd(Lang::Ja, "2015-04-01"), "2015年4月1日(水)");
        assert_eq!(ymd(Lang::En, "soon"), "soon");
        assert_eq!(month(Lang::En, 2027, 2), "February 2027");
        assert_eq!(quantity(500.0), "500");
        assert_eq!(quantity(2.5), "2.5");
    }
}
