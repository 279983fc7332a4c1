//! Dynamic statements, adapted to the backend they run on.
//!
//! The store writes each statement once with PostgreSQL's numbered
//! placeholders (`$1`, `$2`, …), which SQLite accepts too. But when sqlx
//! binds a SQLite statement it asks SQLite for every placeholder's name,
//! and SQLite finds it by a linear scan of the statement's names: binding
//! N numbered placeholders costs O(N²). The dispatcher's multi-row writes
//! carry up to ~1,800 of them, and that lookup was 42% of a busy SQLite
//! dispatcher's CPU. Anonymous `?` placeholders bind in order, each in
//! constant time, so a statement whose placeholders are `$1 … $N`, each
//! once and in order (every multi-row statement is), runs on SQLite with
//! `?` instead.

use std::borrow::Cow;

use sqlx::query::Query;
use sqlx::{Database, Postgres, Sqlite};

/// How a backend wants a statement's text.
pub(crate) trait Dialect: Database {
    /// `sql` as this backend runs it best.
    fn adapt(sql: String) -> String;
}

impl Dialect for Postgres {
    fn adapt(sql: String) -> String {
        sql
    }
}

impl Dialect for Sqlite {
    fn adapt(sql: String) -> String {
        match anonymous(&sql) {
            Cow::Owned(s) => s,
            Cow::Borrowed(_) => sql,
        }
    }
}

/// A dynamic statement (built at run time from trusted fragments: column
/// lists, placeholder lists, never a value) adapted to the backend.
pub(crate) fn query<'q, DB: Dialect>(sql: String) -> Query<'q, DB, <DB as Database>::Arguments> {
    sqlx::query(sqlx::AssertSqlSafe(DB::adapt(sql)))
}

/// `sql` with its placeholders `$1 … $N` made anonymous (`?`) when each
/// appears exactly once and in order; otherwise (a placeholder used twice,
/// out of order, or none) unchanged.
fn anonymous(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1_u64;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Cow::Borrowed(sql);
        }
        let n: u64 = match sql[i + 1..i + 1 + digits].parse() {
            Ok(n) => n,
            Err(_) => return Cow::Borrowed(sql),
        };
        if n != expected {
            return Cow::Borrowed(sql);
        }
        expected += 1;
        out.push_str(&sql[copied..i]);
        out.push('?');
        i += 1 + digits;
        copied = i;
    }
    if expected == 1 {
        return Cow::Borrowed(sql);
    }
    out.push_str(&sql[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::anonymous;

    #[test]
    fn in_order_placeholders_become_anonymous() {
        assert_eq!(
            anonymous("UPDATE t SET a = $1 WHERE id IN ($2, $3, $4)"),
            "UPDATE t SET a = ? WHERE id IN (?, ?, ?)"
        );
        assert_eq!(anonymous("VALUES ($1,$2),($3,$4)"), "VALUES (?,?),(?,?)");
    }

    #[test]
    fn other_statements_are_left_alone() {
        // Reused, out of order, skipped, none, or a `$` that is no placeholder.
        for sql in [
            "SELECT * FROM t WHERE a = $1 OR b = $1",
            "SELECT * FROM t WHERE a = $2 AND b = $1",
            "SELECT * FROM t WHERE a = $1 AND b = $3",
            "SELECT 1",
            "SELECT '$' || a FROM t WHERE b = $1",
        ] {
            assert_eq!(anonymous(sql), sql, "{sql}");
        }
    }
}
