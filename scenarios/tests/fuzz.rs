//! Property-based fuzzing of scenario parsing (issue 17): any text is a scenario or a `LoadError`,
//! never a panic or a stack overflow, however deeply its arrays and inline tables nest. Tests run on
//! libtest's own thread (2 MiB stack).
//!
//! Cases default to 256; a deep run: `PROPTEST_CASES=100000 cargo test -p scenarios --test fuzz`.

use proptest::prelude::*;
use scenarios::scenario::{MAX_FILE_SIZE, MAX_NESTING, Scenario};

const SHIPPED: &str = include_str!("../library/30_disabled_member_keeps_membership.toml");

fn nested_array(n: usize) -> String {
    format!("name = \"x\"\nvalue = {}1{}\n", "[".repeat(n), "]".repeat(n))
}

fn nested_table(n: usize) -> String {
    format!("name = \"x\"\nvalue = {}{}\n", "{ a = ".repeat(n), "1 }".repeat(n))
}

fn toml_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        "=",
        ",",
        "\n",
        " ",
        "a",
        "\"s\"",
        "'l'",
        "\"\"\"",
        "'''",
        "#",
        "1",
        "true",
        "1979-05-27T07:32:00Z",
        "[[steps]]",
        "action",
        "name",
        ".",
        "\\",
    ])
}

proptest! {
    /// Any text: a scenario or problems.
    #[test]
    fn any_text_is_a_scenario_or_problems(text in any::<String>()) {
        let _ = Scenario::parse("fuzz.toml", &text);
    }

    /// Texts from TOML's tokens.
    #[test]
    fn toml_shaped_text_is_a_scenario_or_problems(tokens in prop::collection::vec(toml_token(), 0..400)) {
        let _ = Scenario::parse("fuzz.toml", &tokens.concat());
    }

    /// Arrays and inline tables nested up to 100,000 deep, alone and inside a shipped scenario:
    /// refused past the limit, with one problem.
    #[test]
    fn deep_nesting_is_refused(n in prop_oneof![0usize..=100, 0usize..=100_000], table in any::<bool>()) {
        let nested = if table { nested_table(n) } else { nested_array(n) };
        for text in [nested.clone(), format!("{SHIPPED}\n[entra.switches]\n{}", &nested[11..])] {
            let result = Scenario::parse("fuzz.toml", &text);
            if n > MAX_NESTING {
                let problems = result.unwrap_err().problems;
                prop_assert_eq!(problems.len(), 1);
                prop_assert!(problems[0].message.contains("nest deeper"));
            }
        }
    }
}

/// Nesting that once was only the TOML parser's to survive, and a file too big to read.
#[test]
fn deep_and_huge_files_are_refused_with_one_problem() {
    for text in [nested_array(100_000), nested_table(100_000), nested_array(MAX_NESTING + 1)] {
        let problems = Scenario::parse("deep.toml", &text).unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
    let inside = format!("{SHIPPED}\n[entra.switches]\n{}", &nested_array(MAX_NESTING)[11..]);
    assert!(!Scenario::parse("ok.toml", &inside).is_err_and(|e| e.problems.iter().any(|p| p.message.contains("nest"))));
    // Brackets in strings and comments are not nesting.
    let quoted = format!("{SHIPPED}\n# {}\n", "[".repeat(1_000));
    assert!(Scenario::parse("quoted.toml", &quoted).is_ok());
    let huge = format!("{SHIPPED}\n#{}\n", "x".repeat(MAX_FILE_SIZE));
    assert!(Scenario::parse("huge.toml", &huge).unwrap_err().problems[0].message.contains("bytes"));
    assert!(Scenario::parse("shipped.toml", SHIPPED).is_ok());
}
