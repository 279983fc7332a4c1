//! The read-only pages: each handler calls engine use cases (the same the
//! `/api/v1` routes call) and renders what they return.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use polysync_engine::{DispatcherHealth, Job, JobFilter, Run, RunFilter, RunStatus};
use serde::Deserialize;

use super::PageResult;
use super::html::{badge, esc, label, page, time, url_path};
use crate::AppState;

/// How many runs the lists show.
const LIST_LIMIT: u32 = 100;

/// A job's reference in URLs: `platform:external_id`.
pub fn job_ref(job: &Job) -> String {
    format!("{}:{}", job.platform, job.external_id)
}

fn run_row(r: &Run) -> String {
    format!(
        r#"<tr data-run="{id}"><td><a href="/runs/{uid}"><code>{id}</code></a></td><td>{job}</td><td>{platform}</td><td>{st}</td><td>{created}</td></tr>"#,
        id = esc(&r.id),
        uid = url_path(&r.id),
        job = esc(&r.job_name),
        platform = esc(&r.platform),
        st = badge(
            &label(&r.status),
            &format!(r#"data-run-status="{}" data-v="{}""#, esc(&r.id), r.version)
        ),
        created = time(r.created_at),
    )
}

fn runs_table(runs: &[Run], filter_attrs: &str) -> String {
    let mut rows = String::new();
    for r in runs {
        rows.push_str(&run_row(r));
    }
    format!(
        r#"<div class="scroll"><table class="runs"><thead><tr><th scope="col">Run</th><th scope="col">Job</th><th scope="col">Platform</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead><tbody id="runs-body" {filter_attrs}>{rows}</tbody></table></div>"#
    )
}

/// Start of today (UTC), epoch ms.
fn start_of_today() -> i64 {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .start_of_day()
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0)
}

/// The overview's dispatcher section: live instances, queue depth,
/// tracker lag (this server's last tracking pass), 429s.
fn health_section(h: &DispatcherHealth, tracker_ms: u64, tracked: u64) -> String {
    let instances = if h.instances.is_empty() {
        r#"<span class="warn">none alive</span> <small>task runs wait until <code>polysync dispatcher</code> (or <code>polysync up</code>) runs</small>"#.to_owned()
    } else {
        let list = h
            .instances
            .iter()
            .map(|d| {
                format!(
                    "pid {} on {} <small>(heartbeat {})</small>",
                    d.pid,
                    esc(&d.host),
                    time(d.heartbeat_at)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        format!("<strong>{}</strong> alive: {list}", h.instances.len())
    };
    let throttled = if h.throttled > 0 {
        format!(r#"<span class="warn">{}</span>"#, h.throttled)
    } else {
        "0".to_owned()
    };
    format!(
        r#"<section id="health"><h2>Dispatcher</h2><dl class="health">
<dt>Instances</dt><dd id="instances">{instances}</dd>
<dt>Queue depth</dt><dd id="queue-depth"><strong>{q}</strong> ready or retrying <small>· {w} waiting on upstream · {r} running</small></dd>
<dt>Tracker lag</dt><dd id="tracker-lag"><strong>{tracker_ms} ms</strong> <small>last tracking pass, {tracked} active runs</small></dd>
<dt>429s</dt><dd id="throttled">{throttled} <small>of {req} Databricks requests</small></dd></dl></section>"#,
        q = h.queue_depth,
        w = h.waiting,
        r = h.running,
        req = h.requests,
    )
}

/// `GET /`: platforms, jobs by type, today's runs by status, the
/// dispatcher's health, live feed.
pub async fn overview(
    State(s): State<AppState>,
    axum::Extension(imports): axum::Extension<super::platforms::Imports>,
) -> PageResult {
    use std::sync::atomic::Ordering;
    let platforms = s.engine.list_platforms().await?;
    let jobs = s.engine.list_jobs(&JobFilter::default()).await?;
    let today = s.engine.count_runs_since(start_of_today()).await?;
    let health = s.engine.dispatcher_health().await?;
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_platform: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &jobs {
        *by_type.entry(j.job_type.to_string()).or_default() += 1;
        *by_platform.entry(j.platform.as_str()).or_default() += 1;
    }
    let mut body = String::from(r#"<div class="grid"><section><h2>Platforms</h2><ul>"#);
    for p in &platforms {
        let last = super::platforms::last_import_line(&imports, &p.name);
        let _ = write!(
            body,
            r#"<li><a href="/platforms#platform-{u}"><strong>{n}</strong></a> <small>{url}</small><br><small>{jobs} jobs · {last}</small></li>"#,
            u = esc(&p.name),
            n = esc(&p.name),
            url = esc(&p.workspace_url),
            jobs = by_platform.get(p.name.as_str()).copied().unwrap_or(0),
        );
    }
    if platforms.is_empty() {
        body.push_str(r#"<li>No platform yet: <a href="/platforms">add one</a>.</li>"#);
    }
    body.push_str(r#"</ul></section><section><h2>Jobs by type</h2><ul>"#);
    for (t, n) in &by_type {
        let _ = write!(body, "<li>{}: <strong>{n}</strong></li>", esc(t));
    }
    body.push_str(r#"</ul></section><section><h2>Runs today</h2><ul id="today">"#);
    for (st, n) in &today {
        let _ = write!(
            body,
            r#"<li><a href="/runs?status={st}&amp;period=today">{b}</a>: <strong>{n}</strong></li>"#,
            st = esc(st),
            b = badge(st, "")
        );
    }
    if today.is_empty() {
        body.push_str("<li>No run today.</li>");
    }
    body.push_str("</ul></section>");
    body.push_str(&health_section(
        &health,
        s.metrics.track_pass_ms.load(Ordering::Relaxed),
        s.metrics.tracked_runs.load(Ordering::Relaxed),
    ));
    body.push_str(
        r#"</div><section><h2>Live feed</h2><ol id="feed" class="feed" aria-live="polite"><li class="muted">Status changes appear here as they happen.</li></ol></section>"#,
    );
    Ok(Html(page("Overview", "/", &body)))
}

/// Filters of the runs list.
#[derive(Debug, Default, Deserialize)]
pub struct RunsQuery {
    status: Option<String>,
    platform: Option<String>,
    job: Option<String>,
    /// `today`, `24h`, `7d` (or empty: any time).
    period: Option<String>,
    /// A date (`2026-11-29`, UTC midnight) or an RFC 3339 time; wins over
    /// `period`.
    since: Option<String>,
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// The periods the runs list offers: (value, label).
const PERIODS: [(&str, &str); 4] = [
    ("", "any time"),
    ("today", "today (UTC)"),
    ("24h", "last 24 h"),
    ("7d", "last 7 days"),
];

fn invalid(message: String) -> super::PageError {
    super::PageError {
        status: axum::http::StatusCode::BAD_REQUEST,
        message,
    }
}

/// The start of the time window (epoch ms) a `period` or `since` asks for.
fn window_start(
    period: Option<&str>,
    since: Option<&str>,
) -> Result<Option<i64>, super::PageError> {
    let now = jiff::Timestamp::now().as_millisecond();
    if let Some(since) = since.map(str::trim) {
        if let Ok(t) = since.parse::<jiff::Timestamp>() {
            return Ok(Some(t.as_millisecond()));
        }
        return since
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| Some(z.timestamp().as_millisecond()))
            .ok_or_else(|| {
                invalid(format!(
                    "since `{since}`: give a date (2026-11-29) or a time (2026-11-29T06:00:00Z)"
                ))
            });
    }
    match period {
        None | Some("") => Ok(None),
        Some("today") => Ok(Some(start_of_today())),
        Some("24h") => Ok(Some(now - 24 * 3_600_000)),
        Some("7d") => Ok(Some(now - 7 * 24 * 3_600_000)),
        Some(other) => Err(invalid(format!(
            "period `{other}`: one of today, 24h, 7d (or none)"
        ))),
    }
}

/// `GET /runs`: the latest runs, live; filters by status, platform, job
/// and time.
pub async fn runs(State(s): State<AppState>, Query(q): Query<RunsQuery>) -> PageResult {
    let status_text = nonempty(q.status);
    let status = match status_text.as_deref() {
        None => None,
        Some(st) => Some(
            st.parse::<RunStatus>()
                .map_err(polysync_engine::Error::from)?,
        ),
    };
    let period = nonempty(q.period);
    let since_text = nonempty(q.since);
    let from = window_start(period.as_deref(), since_text.as_deref())?;
    let filter = RunFilter {
        job_name: nonempty(q.job),
        platform: nonempty(q.platform),
        status,
    };
    let list = s.engine.list_runs_since(&filter, from, LIST_LIMIT).await?;
    let mut opts = String::from(r#"<option value="">any</option>"#);
    for st in RunStatus::ALL {
        let l = label(&st);
        let sel = if status_text.as_deref() == Some(l.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(opts, r#"<option{sel}>{}</option>"#, esc(&l));
    }
    let mut periods = String::new();
    for (value, name) in PERIODS {
        let sel = if period.as_deref().unwrap_or("") == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(periods, r#"<option value="{value}"{sel}>{name}</option>"#);
    }
    let attrs = format!(
        r#"data-status="{}" data-platform="{}" data-job="{}""#,
        esc(status_text.as_deref().unwrap_or("")),
        esc(filter.platform.as_deref().unwrap_or("")),
        esc(filter.job_name.as_deref().unwrap_or(""))
    );
    let window = from.map_or_else(String::new, |f| {
        format!(
            r#"<p class="muted" id="window">Created since {}.</p>"#,
            time(f)
        )
    });
    let body = format!(
        r#"<form class="filters" method="get" action="/runs">
<label>Status <select name="status">{opts}</select></label>
<label>Platform <input name="platform" value="{p}"></label>
<label>Job <input name="job" value="{j}"></label>
<label>Created <select name="period" id="period">{periods}</select></label>
<label>or since <input type="date" name="since" id="since" value="{since}"></label>
<button>Filter</button></form>
{window}{table}"#,
        p = esc(filter.platform.as_deref().unwrap_or("")),
        j = esc(filter.job_name.as_deref().unwrap_or("")),
        since = esc(since_text.as_deref().unwrap_or("")),
        table = runs_table(&list, &attrs)
    );
    Ok(Html(page("Runs", "/runs", &body)))
}

/// `GET /runs/{id}`: status timeline, parameters, Databricks ids, failure,
/// Cancel.
pub async fn run(State(s): State<AppState>, Path(id): Path<String>) -> PageResult {
    let d = s.engine.get_run_details(&id, false).await?;
    let r = &d.run;
    let mut timeline = String::new();
    for h in &d.history {
        let st = label(&h.status);
        let _ = write!(
            timeline,
            r#"<li data-status="{st}">{at} — {b} <small>{lc}</small></li>"#,
            st = esc(&st),
            at = time(h.at),
            b = badge(&st, ""),
            lc = esc(h.life_cycle_state.as_deref().unwrap_or(""))
        );
    }
    let mut params = String::new();
    for (k, v) in &r.parameters {
        let _ = write!(
            params,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            esc(k),
            esc(v)
        );
    }
    if params.is_empty() {
        params.push_str("<dd>none</dd>");
    }
    let monitor = r.monitor_url.as_deref().map_or_else(String::new, |u| {
        format!(
            r#"<a href="{}" rel="noopener" target="_blank">Open in Databricks</a>"#,
            esc(u)
        )
    });
    let hint = d
        .hint
        .as_ref()
        .map(|h| format!(r#"<p class="hint">{}</p>"#, esc(&h.to_string())))
        .unwrap_or_default();
    let cancel = if r.status.is_terminal() {
        String::new()
    } else {
        format!(
            r#"<form method="post" action="/runs/{}/cancel" id="cancel-form"><button class="danger" id="cancel">Cancel run</button></form>"#,
            url_path(&r.id)
        )
    };
    let exit = r
        .notebook_exit_value
        .as_deref()
        .map(|v| {
            format!(
                "<dt>Notebook exit value</dt><dd><code>{}</code></dd>",
                esc(v)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<div id="run-page" data-run="{id}" data-v="{v}">
<dl class="facts"><dt>Status</dt><dd>{st}</dd>
<dt>Job</dt><dd>{job} <small>({jt}, {platform})</small></dd>
<dt>Databricks run id</dt><dd id="dbx-run">{dbx}</dd>
<dt>Monitor</dt><dd id="monitor">{monitor}</dd>
<dt>Created</dt><dd>{created}</dd>{exit}</dl>
<p id="error" class="error" role="status">{err}</p>{hint}
{cancel}
<h2>Parameters sent</h2><dl class="facts">{params}</dl>
<h2>Status timeline</h2><ol id="timeline" class="timeline">{timeline}</ol></div>"#,
        id = esc(&r.id),
        v = r.version,
        st = badge(
            &label(&r.status),
            &format!(
                r#"data-run-status="{}" data-v="{}" id="run-status""#,
                esc(&r.id),
                r.version
            )
        ),
        job = esc(&r.job_name),
        jt = esc(&r.job_type.to_string()),
        platform = esc(&r.platform),
        dbx = esc(r.databricks_run_id.as_deref().unwrap_or("—")),
        created = time(r.created_at),
        err = esc(r.error_message.as_deref().unwrap_or("")),
    );
    Ok(Html(page(&format!("Run {}", r.id), "/runs", &body)))
}

/// Filters of the jobs list.
#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    q: Option<String>,
    #[serde(rename = "type")]
    job_type: Option<String>,
    platform: Option<String>,
}

/// `GET /jobs`: searchable, filterable by type and platform.
pub async fn jobs(State(s): State<AppState>, Query(q): Query<JobsQuery>) -> PageResult {
    let platform = nonempty(q.platform);
    let filter = JobFilter {
        platform: platform.clone(),
        ..JobFilter::default()
    };
    let all = s.engine.list_jobs(&filter).await?;
    let search = nonempty(q.q).map(|s| s.to_lowercase());
    let job_type = nonempty(q.job_type);
    let mut types: Vec<String> = all.iter().map(|j| label(&j.job_type)).collect();
    types.sort();
    types.dedup();
    let mut rows = String::new();
    for j in all.iter().filter(|j| {
        search.as_deref().is_none_or(|s| {
            j.name.to_lowercase().contains(s) || j.external_id.to_lowercase().contains(s)
        }) && job_type.as_deref().is_none_or(|t| label(&j.job_type) == t)
    }) {
        let _ = write!(
            rows,
            r#"<tr><td><a href="/jobs/{r}">{n}</a></td><td>{t}</td><td>{p}</td><td><code>{e}</code></td><td>{c}</td></tr>"#,
            r = url_path(&job_ref(j)),
            n = esc(&j.name),
            t = esc(&j.job_type.to_string()),
            p = esc(&j.platform),
            e = esc(&j.external_id),
            c = j.parameters.len()
        );
    }
    let mut type_opts = String::from(r#"<option value="">any</option>"#);
    for t in &types {
        let sel = if job_type.as_deref() == Some(t.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(type_opts, r#"<option{sel}>{}</option>"#, esc(t));
    }
    let body = format!(
        r#"<form class="filters" method="get" action="/jobs">
<label>Search <input type="search" name="q" value="{q}"></label>
<label>Type <select name="type">{type_opts}</select></label>
<label>Platform <input name="platform" value="{p}"></label>
<button>Filter</button></form>
<div class="scroll"><table><thead><tr><th scope="col">Job</th><th scope="col">Type</th><th scope="col">Platform</th><th scope="col">External id</th><th scope="col">Parameters</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
        q = esc(search.as_deref().unwrap_or("")),
        p = esc(platform.as_deref().unwrap_or("")),
    );
    Ok(Html(page("Jobs", "/jobs", &body)))
}

/// The job page: parameters, the run form (with `errors` by field and a
/// general `error`, and the values the user sent), recent runs.
pub async fn job_page(
    s: &AppState,
    job_ref_text: &str,
    values: &BTreeMap<String, String>,
    field_errors: &BTreeMap<String, String>,
    error: Option<&str>,
) -> PageResult {
    let job = s.engine.get_job(job_ref_text).await?;
    let mut fields = String::new();
    let mut table = String::new();
    for p in &job.parameters {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            esc(&label(&p.data_type)),
            esc(&label(&p.direction)),
            esc(p.default_value.as_deref().unwrap_or("")),
            esc(&p.choices.join(", "))
        );
        if !p.forwarded {
            continue;
        }
        let id = format!("param-{}", p.name);
        let value = values
            .get(&p.name)
            .map(String::as_str)
            .or(p.effective_value())
            .unwrap_or("");
        let err = field_errors.get(&p.name);
        let invalid = if err.is_some() {
            format!(
                r#" aria-invalid="true" aria-describedby="{}-error""#,
                esc(&id)
            )
        } else {
            String::new()
        };
        let input = if p.choices.is_empty() {
            format!(
                r#"<input id="{id}" name="{n}" value="{v}"{invalid}>"#,
                id = esc(&id),
                n = esc(&p.name),
                v = esc(value)
            )
        } else {
            let mut o = String::new();
            for c in &p.choices {
                let sel = if c == value { " selected" } else { "" };
                let _ = write!(o, "<option{sel}>{}</option>", esc(c));
            }
            format!(
                r#"<select id="{id}" name="{n}"{invalid}>{o}</select>"#,
                id = esc(&id),
                n = esc(&p.name)
            )
        };
        let _ = write!(
            fields,
            r#"<div class="field"><label for="{id}">{n} <small>{t}</small></label>{input}{e}</div>"#,
            id = esc(&id),
            n = esc(&p.name),
            t = esc(&label(&p.data_type)),
            e = err.map_or_else(String::new, |m| format!(
                r#"<p class="field-error" id="{}-error">{}</p>"#,
                esc(&id),
                esc(m)
            ))
        );
    }
    let runs = s
        .engine
        .list_runs(
            &RunFilter {
                job_name: Some(job.name.clone()),
                platform: Some(job.platform.clone()),
                status: None,
            },
            20,
        )
        .await?;
    let attrs = format!(
        r#"data-job="{}" data-platform="{}""#,
        esc(&job.name),
        esc(&job.platform)
    );
    let body = format!(
        r#"<dl class="facts"><dt>Type</dt><dd>{jt}</dd><dt>Platform</dt><dd>{pl}</dd><dt>External id</dt><dd><code>{ext}</code></dd></dl>
<h2>Parameters</h2><div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Direction</th><th scope="col">Default</th><th scope="col">Choices</th></tr></thead><tbody>{table}</tbody></table></div>
<form method="post" action="/sync-params"><input type="hidden" name="job" value="{rv}"><button id="sync-params">Sync parameters</button></form>
<h2>Run</h2>{err}<form method="post" id="run-form" class="run-form" action="/jobs/{r}">{fields}<button id="run">Run now</button></form>
<h2>Recent runs</h2>{runs}"#,
        jt = esc(&job.job_type.to_string()),
        pl = esc(&job.platform),
        ext = esc(&job.external_id),
        err = error.map_or_else(String::new, |e| format!(
            r#"<p class="error" role="alert">{}</p>"#,
            esc(e)
        )),
        r = url_path(&job_ref(&job)),
        rv = esc(&job_ref(&job)),
        runs = runs_table(&runs, &attrs),
    );
    Ok(Html(page(&job.name, "/jobs", &body)))
}

/// `GET /jobs/{*job}`.
pub async fn job(State(s): State<AppState>, Path(job): Path<String>) -> PageResult {
    job_page(&s, &job, &BTreeMap::new(), &BTreeMap::new(), None).await
}
