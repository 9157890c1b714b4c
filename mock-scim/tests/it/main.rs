//! mock-scim over HTTP: the reference's behaviour matrix (aws-scim.md §8), bad input, captured
//! shapes, concurrency, paging, faults and the admin API. One test binary, as link time matters.

mod admin;
mod bad_input;
mod binary;
mod concurrency;
mod discovery;
mod faults;
mod fixtures;
mod matrix;
mod paging;
mod support;
mod tls;
