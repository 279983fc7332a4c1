//! Typed column access shared by both engines, so row → domain mapping is
//! written once.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::error::{Error, Result};

/// The column reads the mappers need, implemented for both row types.
pub(crate) trait RowExt {
    fn text(&self, col: &'static str) -> Result<String>;
    fn opt_text(&self, col: &'static str) -> Result<Option<String>>;
    fn int(&self, col: &'static str) -> Result<i64>;
    fn opt_int(&self, col: &'static str) -> Result<Option<i64>>;
    fn boolean(&self, col: &'static str) -> Result<bool>;
}

fn corrupt(col: &'static str, e: sqlx::Error) -> Error {
    Error::Corrupt {
        column: col,
        message: e.to_string(),
    }
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, col: &'static str) -> Result<String> {
                self.try_get::<String, _>(col).map_err(|e| corrupt(col, e))
            }
            fn opt_text(&self, col: &'static str) -> Result<Option<String>> {
                self.try_get::<Option<String>, _>(col)
                    .map_err(|e| corrupt(col, e))
            }
            fn int(&self, col: &'static str) -> Result<i64> {
                self.try_get::<i64, _>(col).map_err(|e| corrupt(col, e))
            }
            fn opt_int(&self, col: &'static str) -> Result<Option<i64>> {
                self.try_get::<Option<i64>, _>(col)
                    .map_err(|e| corrupt(col, e))
            }
            fn boolean(&self, col: &'static str) -> Result<bool> {
                self.try_get::<bool, _>(col).map_err(|e| corrupt(col, e))
            }
        }
    };
}

impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

/// Parses a stored enum spelling, reporting the column on failure.
pub(crate) fn parse_col<T: std::str::FromStr>(col: &'static str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>().map_err(|e| Error::Corrupt {
        column: col,
        message: e.to_string(),
    })
}
