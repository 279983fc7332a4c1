//! Typed request/response models. Every struct tolerates unknown fields and every enum has an
//! `Unknown(String)` fallback, so a newer server never breaks decoding.

pub(crate) mod common;
pub mod compute;
pub mod jobs;
pub mod pipelines;
pub mod runs;
pub mod workspace;

pub use common::Extra;
pub use compute::*;
pub use jobs::*;
pub use pipelines::*;
pub use runs::*;
pub use workspace::*;
