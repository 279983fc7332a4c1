//! The small HTML toolkit the pages are built with: escaping (every value
//! from the store or a user goes through [`esc`]), the page frame, and the
//! status badge the live script recognises.

use std::fmt::Write as _;

/// `s` safe inside HTML text and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` safe as part of a URL path (keeps `/` and `:` readable, so job
/// references such as `emu:/Shared/etl` stay recognisable).
pub fn url_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The serde name of an enum value (`Success`, `notebook`), as the API and
/// the event feed spell it, so the script can match what it receives.
pub fn label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A status badge; `attr` (`data-run-status="<id>"`) lets the live script
/// find and update it.
pub fn badge(status: &str, attr: &str) -> String {
    format!(
        r#"<span class="st st-{s}" {attr}>{s}</span>"#,
        s = esc(status)
    )
}

/// Milliseconds since the epoch as `2026-11-29 10:05:20 UTC`.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// The navigation entries: (path, label).
const NAV: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/jobs", "Jobs"),
    ("/runs", "Runs"),
    ("/tasks", "Tasks"),
    ("/dag-runs", "DAG runs"),
    ("/platforms", "Platforms"),
];

/// A full page: `title`, the active nav entry `active`, the `body` HTML.
pub fn page(title: &str, active: &str, body: &str) -> String {
    let mut nav = String::new();
    for (href, name) in NAV {
        let current = if href == active {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(nav, r#"<a href="{href}"{current}>{name}</a>"#);
    }
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} · Polysync</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head><body data-since="{since}">
<a class="skip" href="#main">Skip to content</a>
<header><strong class="brand">Polysync</strong><nav aria-label="Main">{nav}</nav>
<span id="live" class="live" title="Live updates">offline</span></header>
<main id="main"><h1>{t}</h1>
{body}
</main></body></html>"##,
        t = esc(title),
        since = jiff::Timestamp::now().as_millisecond()
    )
}

/// A scheduled time in the schedule's own zone, with the zone named and
/// UTC beside it: `2026-11-30 06:00 CET (Europe/Amsterdam) · 05:00 UTC`,
/// so a daylight-saving shift reads as what the cron expression meant.
pub fn zoned_time(ms: i64, zone: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return ms.to_string();
    };
    let utc = ts.strftime("%H:%M UTC").to_string();
    match jiff::tz::TimeZone::get(zone) {
        Ok(tz) => format!(
            "{} ({}) · {utc}",
            ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z"),
            zone
        ),
        Err(_) => time(ms),
    }
}
