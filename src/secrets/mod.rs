//! Secrets engines. Each owns its paths, its `Route` enum and its data under `ctx.storage`,
//! and sees nothing but its [`Ctx`](crate::engine::Ctx).

pub(crate) mod cubbyhole;
pub(crate) mod kv;
pub(crate) mod transit;
