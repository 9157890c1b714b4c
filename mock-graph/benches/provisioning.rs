//! The provisioning engine benchmark (being written).
fn main() {}
