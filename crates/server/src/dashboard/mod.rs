//! The web dashboard at `/`: server-rendered pages (readable without
//! JavaScript) plus one small script that follows `/api/events` to update
//! statuses live. Actions are plain form posts, each handled by calling the
//! same engine use case as its `/api/v1` route, so the dashboard has no
//! logic of its own. Auth is the API's: the login page stores an API token
//! in a cookie the auth middleware accepts like a bearer token.

mod dag_pages;
mod graph;
mod html;
mod pages;
mod platforms;

use std::collections::BTreeMap;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Router, routing};
use secrecy::SecretString;

use crate::AppState;
use html::{esc, page, url_path};

/// The cookie holding the API token after login.
pub const TOKEN_COOKIE: &str = "polysync_token";

/// A dashboard page or an error page.
pub type PageResult = Result<Html<String>, PageError>;

/// An engine error shown as an HTML page with the API's status code.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl From<polysync_engine::Error> for PageError {
    fn from(e: polysync_engine::Error) -> Self {
        let message = e.to_string();
        let status = crate::error::ApiError::from(e).into_response().status();
        Self { status, message }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            r#"<p class="error" role="alert">{}</p>"#,
            esc(&self.message)
        );
        (self.status, Html(page("Error", "", &body))).into_response()
    }
}

/// The dashboard routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", routing::get(pages::overview))
        .route("/static/app.js", routing::get(script))
        .route("/static/app.css", routing::get(style))
        .route("/login", routing::get(login_form).post(login))
        .route("/logout", routing::post(logout))
        .route("/jobs", routing::get(pages::jobs))
        .route("/jobs/{*job}", routing::get(pages::job).post(run_job))
        .route("/sync-params", routing::post(sync_params))
        .route("/runs", routing::get(pages::runs))
        .route("/runs/{id}", routing::get(pages::run))
        .route("/runs/{id}/cancel", routing::post(cancel_run))
        .route("/tasks", routing::get(dag_pages::tasks))
        .route("/tasks/{name}/run", routing::post(run_task))
        .route("/dag-runs", routing::get(dag_pages::dag_runs))
        .route("/dag-runs/{id}", routing::get(dag_pages::dag_run))
        .route("/dag-runs/{id}/cancel", routing::post(cancel_dag_run))
        .route(
            "/platforms",
            routing::get(platforms::platforms).post(platforms::add),
        )
        .route(
            "/platforms/{name}/import",
            routing::get(platforms::import_page).post(platforms::start_import),
        )
        .layer(axum::Extension(platforms::Imports::default()))
}

/// Whether a request path belongs to the dashboard (auth failures redirect
/// to the login page instead of answering 401 JSON).
pub fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/metrics" || path == "/health")
}

/// Paths open without a token: the login page and the static assets.
pub fn is_public(path: &str) -> bool {
    path == "/login" || path.starts_with("/static/")
}

/// The API token from the `polysync_token` cookie, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<SecretString> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == TOKEN_COOKIE && !v.is_empty()).then(|| SecretString::from(v.to_owned()))
        })
}

/// Refuses a form post from another site (the cookie is `SameSite=Strict`,
/// and without tokens nothing else stops a cross-site form).
fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin_host == host {
        Ok(())
    } else {
        Err(PageError {
            status: StatusCode::FORBIDDEN,
            message: format!("form posted from another site ({origin}): refused"),
        })
    }
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("app.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("app.css"),
    )
}

fn login_page(error: Option<&str>) -> Html<String> {
    let err = error.map_or_else(String::new, |e| {
        format!(r#"<p class="field-error" id="token-error">{}</p>"#, esc(e))
    });
    Html(page(
        "Sign in",
        "",
        &format!(
            r#"<form method="post" action="/login" class="run-form"><div class="field"><label for="token">API token <small>(polysync tokens create)</small></label><input id="token" name="token" type="password" autocomplete="current-password" required>{err}</div><button>Sign in</button></form>"#
        ),
    ))
}

async fn login_form() -> Html<String> {
    login_page(None)
}

#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(s): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let token = f.token.trim().to_owned();
    let cookie_safe = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'"');
    let ok = cookie_safe
        && matches!(
            s.engine
                .authenticate_api_token(&SecretString::from(token.clone()))
                .await,
            Ok(Some(_))
        );
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            login_page(Some("invalid or revoked API token")),
        )
            .into_response();
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut resp = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout() -> Response {
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("polysync_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"),
    );
    resp
}

/// The parameter an engine validation message is about
/// (``parameter `n`: ...``), so the error shows next to that field.
fn faulty_parameter(message: &str) -> Option<String> {
    let rest = message.split_once("parameter `")?.1;
    Some(rest.split_once('`')?.0.to_owned())
}

/// `POST /jobs/{*job}`: the run form, through [`Engine::start_run`] as
/// `POST /api/v1/runs`; on a refused value the form again with the error
/// next to the field.
///
/// [`Engine::start_run`]: polysync_engine::Engine::start_run
async fn run_job(
    State(s): State<AppState>,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(values): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    same_origin(&headers)?;
    match s.engine.start_run(&job, &values).await {
        Ok(run) => Ok(Redirect::to(&format!("/runs/{}", url_path(&run.id))).into_response()),
        Err(e) if e.kind() == polysync_engine::ErrorKind::Invalid => {
            let message = e.to_string();
            let values: BTreeMap<String, String> = values.into_iter().collect();
            let mut fields = BTreeMap::new();
            let general = match faulty_parameter(&message) {
                Some(name) if values.contains_key(&name) => {
                    fields.insert(name, message);
                    None
                }
                _ => Some(message.as_str()),
            };
            let html = pages::job_page(&s, &job, &values, &fields, general).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, serde::Deserialize)]
struct JobForm {
    job: String,
}

/// `POST /sync-params`: as `POST /api/v1/sync-params`, back to the job.
async fn sync_params(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<JobForm>,
) -> Result<Redirect, PageError> {
    same_origin(&headers)?;
    s.engine.sync_params(&f.job).await?;
    Ok(Redirect::to(&format!("/jobs/{}", url_path(&f.job))))
}

async fn cancel_run(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    same_origin(&headers)?;
    let run = s.engine.cancel_run(&id).await?;
    Ok(Redirect::to(&format!("/runs/{}", url_path(&run.id))))
}

async fn run_task(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    same_origin(&headers)?;
    let dag = s
        .engine
        .start_dag_run(&name, &[], "dashboard", None)
        .await?;
    Ok(Redirect::to(&format!("/dag-runs/{}", url_path(&dag.id))))
}

async fn cancel_dag_run(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    same_origin(&headers)?;
    let v = s.engine.cancel_dag_run(&id).await?;
    Ok(Redirect::to(&format!("/dag-runs/{}", url_path(&v.id))))
}
