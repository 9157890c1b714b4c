//! What the harness's command-line tests share: the workspace, the built binary run from it, and
//! a count of what a mock-scim tenant holds, read over SCIM.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mock_scim::MockScim;

/// The workspace's root, where `scenarios/` is.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Runs the built `harness` from the workspace: its exit code, standard output and error.
pub fn harness(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(workspace())
        .args(args)
        .output()
        .expect("the harness runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// How many `resource` (`Users`, `Groups`) the mock's tenant holds, as `GET …/{resource}` says.
pub async fn scim_total(scim: &MockScim, resource: &str) -> u64 {
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{}{resource}", scim.scim_endpoint()))
        .bearer_auth(scim.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["totalResults"].as_u64().unwrap_or(u64::MAX)
}
