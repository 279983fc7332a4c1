//! The Platforms page: register a workspace (a token environment variable
//! or a `~/.databrickscfg` profile, checked against the workspace like
//! `polysync platform add`), and import its jobs with progress. The import
//! runs in the background ([`Engine::import`], the use case of
//! `POST /api/v1/platforms/{name}/import`); its page refreshes itself (an
//! HTTP `Refresh` header, so it works with JavaScript off) until it ends.
//!
//! [`Engine::import`]: polysync_engine::Engine::import

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use polysync_engine::{Auth, ImportProgress, JobFilter, JobType};

use super::html::{esc, page, time, url_path};
use super::{PageError, PageResult, same_origin};
use crate::AppState;
use crate::platform_input::{PlatformFields, field_of, platform_of};

/// Where one platform's latest import (started from the dashboard, in this
/// server process) is.
#[derive(Debug, Clone, Default)]
pub struct ImportState {
    /// When it started, epoch ms.
    pub started_at: i64,
    /// The discovery phase under way.
    pub phase: String,
    /// Jobs discovered so far.
    pub discovered: u64,
    /// Jobs to discover, when the workspace said.
    pub total: Option<u64>,
    /// When it ended, epoch ms.
    pub ended_at: Option<i64>,
    /// The outcome once ended: a one-line summary, or the error.
    pub outcome: Option<Result<String, String>>,
}

/// The dashboard's imports by platform name, shared by its handlers.
#[derive(Debug, Clone, Default)]
pub struct Imports(Arc<Mutex<HashMap<String, ImportState>>>);

impl Imports {
    fn get(&self, platform: &str) -> Option<ImportState> {
        self.0.lock().ok()?.get(platform).cloned()
    }

    fn update(&self, platform: &str, f: impl FnOnce(&mut ImportState)) {
        if let Ok(mut map) = self.0.lock() {
            f(map.entry(platform.to_owned()).or_default());
        }
    }

    /// Starts an import unless one of this platform is running; true when
    /// it started.
    fn begin(&self, platform: &str) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        if map.get(platform).is_some_and(|s| s.ended_at.is_none()) {
            return false;
        }
        map.insert(
            platform.to_owned(),
            ImportState {
                started_at: now_ms(),
                phase: "connecting".into(),
                ..ImportState::default()
            },
        );
        true
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Discovery progress written into the shared state.
struct Progress {
    imports: Imports,
    platform: String,
}

impl ImportProgress for Progress {
    fn phase(&self, message: &str) {
        self.imports
            .update(&self.platform, |s| message.clone_into(&mut s.phase));
    }
    fn discovered(&self, _job_type: JobType, _name: &str) {
        self.imports.update(&self.platform, |s| s.discovered += 1);
    }
    fn total(&self, n: u64) {
        self.imports.update(&self.platform, |s| s.total = Some(n));
    }
}

/// One line about a platform's latest dashboard import, for the overview.
pub fn last_import_line(imports: &Imports, platform: &str) -> String {
    match imports.get(platform) {
        None => "no import from this dashboard yet".into(),
        Some(ImportState {
            ended_at: None,
            discovered,
            ..
        }) => format!("importing… {discovered} found"),
        Some(ImportState {
            ended_at: Some(at),
            outcome,
            ..
        }) => match outcome {
            Some(Ok(summary)) => format!("imported {}: {}", time(at), esc(&summary)),
            _ => format!(r#"<span class="warn">import failed {}</span>"#, time(at)),
        },
    }
}

/// What the add form holds (kept to re-render it with its errors).
#[derive(Debug, Default, serde::Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    /// `token_env` or `profile`.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    token_env: String,
    #[serde(default)]
    profile: String,
    /// Present when the box is ticked.
    verify: Option<String>,
}

impl AddForm {
    fn fields(&self) -> PlatformFields<'_> {
        PlatformFields {
            name: &self.name,
            host: &self.host,
            use_profile: self.auth == "profile",
            token_env: &self.token_env,
            profile: &self.profile,
        }
    }
}

fn field(
    id: &str,
    label: &str,
    value: &str,
    help: &str,
    errors: &BTreeMap<&str, String>,
) -> String {
    let err = errors.get(id);
    format!(
        r#"<div class="field"><label for="{id}">{label} <small>{help}</small></label><input id="{id}" name="{id}" value="{v}"{inv}>{e}</div>"#,
        v = esc(value),
        inv = if err.is_some() {
            format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
        } else {
            String::new()
        },
        e = err.map_or_else(String::new, |m| format!(
            r#"<p class="field-error" id="{id}-error">{}</p>"#,
            esc(m)
        )),
    )
}

fn add_form(f: &AddForm, errors: &BTreeMap<&str, String>, general: Option<&str>) -> String {
    let profile = f.auth == "profile";
    let verify = f.verify.is_some() || f.name.is_empty();
    format!(
        r#"<h2 id="add">Add a platform</h2>{g}<form method="post" action="/platforms" class="run-form" id="add-platform">
{name}{host}
<fieldset class="field"><legend>Credentials</legend>
<label class="check"><input type="radio" name="auth" value="token_env"{te}> a token in an environment variable of this server</label>
<label class="check"><input type="radio" name="auth" value="profile"{pr}> a <code>~/.databrickscfg</code> profile</label>
</fieldset>
{token_env}{profile_field}
<label class="check"><input type="checkbox" name="verify" value="1"{ver}> check the workspace accepts the credentials first</label>
<button id="add-platform-button">Add platform</button></form>"#,
        g = general.map_or_else(String::new, |m| format!(
            r#"<p class="error" role="alert">{}</p>"#,
            esc(m)
        )),
        name = field("name", "Name", &f.name, "letters, digits, - and _", errors),
        host = field(
            "host",
            "Workspace URL",
            &f.host,
            "optional with a profile (its host is used)",
            errors
        ),
        te = if profile { "" } else { " checked" },
        pr = if profile { " checked" } else { "" },
        token_env = field(
            "token_env",
            "Token variable",
            &f.token_env,
            "e.g. DATABRICKS_TOKEN (the name, never the token)",
            errors
        ),
        profile_field = field("profile", "Profile", &f.profile, "e.g. DEFAULT", errors),
        ver = if verify { " checked" } else { "" },
    )
}

async fn render(s: &AppState, imports: &Imports, form: &str) -> PageResult {
    let platforms = s.engine.list_platforms().await?;
    let jobs = s.engine.list_jobs(&JobFilter::default()).await?;
    let mut rows = String::new();
    for p in &platforms {
        let auth = match &p.auth {
            Auth::TokenEnv { var } => format!("token in <code>${}</code>", esc(var)),
            Auth::Profile { name, .. } => format!("profile <code>{}</code>", esc(name)),
        };
        let n = jobs.iter().filter(|j| j.platform == p.name).count();
        let _ = write!(
            rows,
            r#"<tr id="platform-{id}"><td><strong>{name}</strong></td><td><code>{url}</code></td><td>{auth}</td><td><a href="/jobs?platform={u}">{n}</a></td><td>{last}</td><td><form method="post" action="/platforms/{u}/import"><button aria-label="Import {name}">Import</button></form></td></tr>"#,
            id = esc(&p.name),
            name = esc(&p.name),
            url = esc(&p.workspace_url),
            u = url_path(&p.name),
            last = last_import_line(imports, &p.name),
        );
    }
    if platforms.is_empty() {
        rows.push_str(r#"<tr><td colspan="6">No platform yet: add one below.</td></tr>"#);
    }
    let body = format!(
        r#"<div class="scroll"><table><thead><tr><th scope="col">Platform</th><th scope="col">Workspace</th><th scope="col">Credentials</th><th scope="col">Jobs</th><th scope="col">Last import</th><th scope="col"></th></tr></thead><tbody>{rows}</tbody></table></div>
{form}"#
    );
    Ok(Html(page("Platforms", "/platforms", &body)))
}

/// `GET /platforms`.
pub async fn platforms(
    State(s): State<AppState>,
    Extension(imports): Extension<Imports>,
) -> PageResult {
    render(
        &s,
        &imports,
        &add_form(&AddForm::default(), &BTreeMap::new(), None),
    )
    .await
}

/// `POST /platforms`: registers the platform (checked first unless the
/// box is cleared), as `polysync platform add`; a refusal re-renders the
/// form with the reason next to the field.
pub async fn add(
    State(s): State<AppState>,
    Extension(imports): Extension<Imports>,
    headers: HeaderMap,
    Form(f): Form<AddForm>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    let result = match platform_of(&f.fields()) {
        Err(e) => Err(e),
        Ok(p) => {
            let saved = if f.verify.is_some() {
                s.engine.add_verified_platform(p).await.map(|(p, _)| p)
            } else {
                s.engine.add_platform(p).await
            };
            saved.map_err(|e| (field_of(&e), e.to_string()))
        }
    };
    match result {
        Ok(p) => {
            Ok(Redirect::to(&format!("/platforms#platform-{}", url_path(&p.name))).into_response())
        }
        Err((fld, message)) => {
            let mut errors = BTreeMap::new();
            let general = if fld.is_empty() {
                Some(message.as_str())
            } else {
                errors.insert(fld, message.clone());
                None
            };
            let html = render(&s, &imports, &add_form(&f, &errors, general)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}

/// `POST /platforms/{name}/import`: starts the import in the background
/// (unless one runs) and shows its progress.
pub async fn start_import(
    State(s): State<AppState>,
    Extension(imports): Extension<Imports>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    same_origin(&headers)?;
    let platform = s.engine.get_platform(&name).await?;
    if imports.begin(&platform.name) {
        let engine = s.engine.clone();
        let progress = Progress {
            imports: imports.clone(),
            platform: platform.name.clone(),
        };
        tokio::spawn(async move {
            let result = engine.import(&progress.platform, &progress).await;
            let outcome = result
                .map(|r| {
                    format!(
                        "{} added, {} updated, {} unchanged, {} removed, {} skipped",
                        r.added.len(),
                        r.updated.len(),
                        r.unchanged.len(),
                        r.removed.len(),
                        r.skipped.len()
                    )
                })
                .map_err(|e| e.to_string());
            progress.imports.update(&progress.platform, |st| {
                st.ended_at = Some(now_ms());
                "done".clone_into(&mut st.phase);
                st.outcome = Some(outcome);
            });
        });
    }
    Ok(Redirect::to(&format!(
        "/platforms/{}/import",
        url_path(&platform.name)
    )))
}

/// `GET /platforms/{name}/import`: the import's progress; refreshes every
/// second while it runs.
pub async fn import_page(
    State(s): State<AppState>,
    Extension(imports): Extension<Imports>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let platform = s.engine.get_platform(&name).await?;
    let Some(st) = imports.get(&platform.name) else {
        return Ok(Redirect::to("/platforms").into_response());
    };
    let running = st.ended_at.is_none();
    let total = st.total.map_or_else(String::new, |t| format!(" of {t}"));
    let (status, outcome) = match &st.outcome {
        None => ("Running", String::new()),
        Some(Ok(summary)) => (
            "Success",
            format!(
                r#"<p id="import-summary">{}. <a href="/jobs?platform={}">See the jobs</a>.</p>"#,
                esc(summary),
                url_path(&platform.name)
            ),
        ),
        Some(Err(e)) => (
            "Failed",
            format!(
                r#"<p class="error" role="alert" id="import-summary">{}</p>"#,
                esc(e)
            ),
        ),
    };
    let progress = match st.total {
        Some(t) if t > 0 => format!(
            r#"<progress max="{t}" value="{d}" aria-label="Jobs discovered">{d}/{t}</progress>"#,
            d = st.discovered.min(t)
        ),
        _ if running => r#"<progress aria-label="Importing"></progress>"#.into(),
        _ => String::new(),
    };
    let body = format!(
        r#"<dl class="facts"><dt>Platform</dt><dd>{p} <small>{url}</small></dd><dt>Status</dt><dd><span class="st st-{status}" id="import-status">{status}</span></dd><dt>Phase</dt><dd id="import-phase">{phase}</dd><dt>Discovered</dt><dd id="import-discovered">{d}{total} jobs {progress}</dd><dt>Started</dt><dd>{started}</dd><dt>Ended</dt><dd>{ended}</dd></dl>{outcome}<p><a href="/platforms">Back to the platforms</a></p>"#,
        p = esc(&platform.name),
        url = esc(&platform.workspace_url),
        phase = esc(&st.phase),
        d = st.discovered,
        started = time(st.started_at),
        ended = st.ended_at.map(time).unwrap_or_else(|| "—".into()),
    );
    let html = Html(page(
        &format!("Import {}", platform.name),
        "/platforms",
        &body,
    ));
    if running {
        Ok(([(header::REFRESH, "1")], html).into_response())
    } else {
        Ok(html.into_response())
    }
}
