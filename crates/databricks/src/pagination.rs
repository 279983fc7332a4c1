//! Page-following helpers: token/offset list streams and the Jobs 2.2 in-object array merge.

use std::future::Future;

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};
use serde_json::Value;

use crate::error::Result;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// `page_token=…`.
    Token(String),
    /// Legacy `offset=…` (when a server sends `has_more` without a token).
    Offset(u64),
}

/// Turns a page fetcher into a stream of items. `fetch(None)` fetches the first page and
/// returns the items plus the cursor of the next page (`None` = last page).
pub fn paginate<T, F, Fut>(fetch: F) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(Option<Cursor>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<Cursor>)>> + Send + 'static,
{
    stream::try_unfold(
        (fetch, Some(None::<Cursor>)),
        |(mut fetch, next)| async move {
            let Some(cursor) = next else {
                return Ok::<_, crate::error::Error>(None);
            };
            let (items, following) = fetch(cursor.clone()).await?;
            // A server repeating the same token would loop forever: stop instead.
            let following = following.filter(|f| Some(f) != cursor.as_ref());
            Ok(Some((items, (fetch, following.map(Some)))))
        },
    )
    .map_ok(|items: Vec<T>| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Next cursor for list endpoints: the token when present, else offset paging when the
/// server says `has_more`.
pub(crate) fn next_cursor(
    token: Option<String>,
    has_more: bool,
    offset_so_far: u64,
) -> Option<Cursor> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => Some(Cursor::Token(t)),
        None if has_more => Some(Cursor::Offset(offset_so_far)),
        None => None,
    }
}

/// Array fields Jobs 2.2 pages inside `jobs/get` (under `settings`) and `runs/get`.
const PAGED_ARRAYS: &[&str] = &[
    "tasks",
    "job_clusters",
    "parameters",
    "job_parameters",
    "environments",
    "repair_history",
    "iterations",
];

/// Appends the paged arrays of `page` to `acc` (top level and inside `settings`) and takes
/// over its `next_page_token`. Non-array fields of later pages are ignored: the first page is
/// authoritative for them.
pub fn merge_array_page(acc: &mut Value, page: Value) {
    let Value::Object(mut page) = page else {
        return;
    };
    let Some(acc_obj) = acc.as_object_mut() else {
        return;
    };
    fn append(dst: &mut serde_json::Map<String, Value>, src: &mut serde_json::Map<String, Value>) {
        for key in PAGED_ARRAYS {
            if let Some(Value::Array(more)) = src.remove(*key) {
                match dst.get_mut(*key) {
                    Some(Value::Array(existing)) => existing.extend(more),
                    _ => {
                        dst.insert((*key).to_string(), Value::Array(more));
                    }
                }
            }
        }
    }
    append(acc_obj, &mut page);
    if let Some(Value::Object(mut s)) = page.remove("settings") {
        if let Some(Value::Object(dst)) = acc_obj.get_mut("settings") {
            append(dst, &mut s);
        } else {
            acc_obj.insert("settings".into(), Value::Object(s));
        }
    }
    match page.remove("next_page_token") {
        Some(t) => acc_obj.insert("next_page_token".into(), t),
        None => acc_obj.remove("next_page_token"),
    };
}

/// The `next_page_token` of a raw object, if non-empty.
pub(crate) fn page_token(v: &Value) -> Option<String> {
    v.get("next_page_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_job_and_run_pages() {
        let mut job = json!({"job_id": 1, "settings": {"name": "n", "tasks": [{"task_key": "a"}], "job_clusters": [{"job_cluster_key": "c"}]}, "next_page_token": "p2"});
        merge_array_page(
            &mut job,
            json!({"job_id": 1, "settings": {"name": "n", "tasks": [{"task_key": "b"}], "job_clusters": []}, "next_page_token": "p3"}),
        );
        assert_eq!(job["next_page_token"], "p3");
        merge_array_page(
            &mut job,
            json!({"job_id": 1, "settings": {"tasks": [{"task_key": "c"}], "parameters": [{"name": "x", "default": ""}]}}),
        );
        assert!(job.get("next_page_token").is_none());
        let keys: Vec<_> = job["settings"]["tasks"]
            .as_array()
            .expect("arr")
            .iter()
            .map(|t| t["task_key"].as_str().expect("s").to_string())
            .collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(
            job["settings"]["job_clusters"].as_array().expect("a").len(),
            1
        );
        assert_eq!(
            job["settings"]["parameters"].as_array().expect("a").len(),
            1
        );

        let mut run = json!({"run_id": 5, "tasks": [{"task_key": "a"}], "job_parameters": [], "next_page_token": "x"});
        merge_array_page(
            &mut run,
            json!({"run_id": 5, "tasks": [{"task_key": "b"}], "iterations": [{"task_key": "i"}]}),
        );
        assert_eq!(run["tasks"].as_array().expect("a").len(), 2);
        assert_eq!(run["iterations"].as_array().expect("a").len(), 1);
    }

    #[tokio::test]
    async fn paginate_follows_tokens_and_offsets() {
        let s = paginate(|c: Option<Cursor>| async move {
            Ok(match c {
                None => (vec![1, 2], Some(Cursor::Token("t".into()))),
                Some(Cursor::Token(_)) => (vec![3], Some(Cursor::Offset(3))),
                Some(Cursor::Offset(_)) => (vec![4], None),
            })
        });
        let all: Vec<i32> = s.try_collect().await.expect("ok");
        assert_eq!(all, [1, 2, 3, 4]);
        assert_eq!(next_cursor(None, true, 10), Some(Cursor::Offset(10)));
        assert_eq!(next_cursor(Some(String::new()), false, 10), None);
    }
}
