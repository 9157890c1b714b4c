//! Finding and reading scenario files: files or folders (recursively, `*.toml` but `Cargo.toml`),
//! every file checked, every problem of every file reported before anything runs.

use std::path::{Path, PathBuf};

use scenarios::scenario::{LoadError, Problem, Scenario};

/// A scenario and the file it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Its content.
    pub scenario: Scenario,
}

/// Finds the scenario files under the given paths, in sorted order.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Problem>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files, &mut problems);
            if files.len() == before {
                problems.push(problem(path, "(folder)", "no scenario files (*.toml) here"));
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            let message = if path.is_relative() {
                match std::env::current_dir() {
                    Ok(here) => format!("no such file or folder in {}", here.display()),
                    Err(_) => "no such file or folder".to_owned(),
                }
            } else {
                "no such file or folder".to_owned()
            };
            problems.push(problem(path, "(path)", &message));
        }
    }
    files.sort();
    files.dedup();
    if problems.is_empty() { Ok(files) } else { Err(problems) }
}

fn problem(path: &Path, at: &str, message: &str) -> Problem {
    Problem {
        file: path.display().to_string(),
        line: None,
        column: None,
        path: at.to_owned(),
        message: message.to_owned(),
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            problems.push(problem(dir, "(folder)", &format!("cannot be read: {err}")));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !matches!(name, "src" | "target" | "tests") && !name.starts_with('.') {
                walk(&path, files, problems);
            }
        } else if name.ends_with(".toml") && name != "Cargo.toml" {
            files.push(path);
        }
    }
}

/// Reads and checks files; all problems of all files, or every scenario.
pub fn load(files: &[PathBuf]) -> Result<Vec<Loaded>, Vec<Problem>> {
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Err(err) => problems.push(problem(path, "(file)", &format!("cannot be read: {err}"))),
            Ok(text) => match Scenario::parse(&name, &text) {
                Ok(scenario) => loaded.push(Loaded { path: path.clone(), scenario }),
                Err(LoadError { problems: found }) => problems.extend(found),
            },
        }
    }
    let mut names: Vec<(&str, &Path)> = Vec::new();
    for item in &loaded {
        if let Some((_, other)) = names.iter().find(|(n, _)| *n == item.scenario.name) {
            problems.push(problem(
                &item.path,
                "name",
                &format!("duplicate scenario name '{}' (also in {})", item.scenario.name, other.display()),
            ));
        }
        names.push((&item.scenario.name, &item.path));
    }
    if problems.is_empty() { Ok(loaded) } else { Err(problems) }
}

/// Puts an external engine (`harness run --engine`) in place of Entra's service in every scenario,
/// refusing, with every place, what only Entra's service has (see
/// [`Scenario::entra_only`]): nothing is run then.
pub fn with_engine(loaded: &mut [Loaded], engine: &scenarios::scenario::Engine) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    for item in loaded.iter_mut() {
        problems.extend(placed(item, item.scenario.entra_only()));
        item.scenario.engine = Some(engine.clone());
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Checks every scenario can run against a SCIM server without mock-scim's admin API (`harness run
/// --scim URL --scim-token T`), refusing, with every place, what needs it (see
/// [`scenarios::scenario::Scenario::needs_aws_admin`]): nothing is run then.
pub fn for_scim_target(loaded: &[Loaded]) -> Result<(), Vec<Problem>> {
    let problems: Vec<Problem> = loaded.iter().flat_map(|item| placed(item, item.scenario.needs_aws_admin())).collect();
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Problems at their lines: a span's, or for a top-level table (an empty span) the line its header
/// is on (`[[faults]]`, `[aws.switches]`).
fn placed(item: &Loaded, found: Vec<(std::ops::Range<usize>, String, String)>) -> Vec<Problem> {
    if found.is_empty() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(&item.path).unwrap_or_default();
    found
        .into_iter()
        .map(|(span, path, message)| {
            let start = if span.is_empty() {
                [format!("[[{path}]]"), format!("[{path}]")].iter().find_map(|header| text.find(header.as_str()))
            } else {
                Some(span.start)
            };
            Problem {
                file: item.path.display().to_string(),
                line: start.filter(|_| !text.is_empty()).map(|at| scenarios::scenario::line_of(&text, at)),
                column: None,
                path,
                message,
            }
        })
        .collect()
}
