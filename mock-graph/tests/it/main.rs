//! mock-graph over HTTP: auth, directory, OData, applications, delta, admin and bad input. One test
//! binary, as link time matters.

mod apps;
mod auth;
mod bad_input;
mod binary;
mod concurrency;
mod delta;
mod directory;
mod engine;
mod kiota;
mod manager;
mod odata;
mod provisioning;
mod sdk;
mod secrets_never_leak;
mod support;
mod tls;
