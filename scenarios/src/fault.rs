//! Fault plans: rules that make a mock answer some requests with latency, an error status, a dropped
//! connection or a timeout, decided deterministically from the plan's seed and the request sequence.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::rng::mix;

/// A list of fault rules plus the seed for their probabilistic decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed for `probability` decisions; the same seed and request sequence give the same faults.
    #[serde(default)]
    pub seed: u64,
    /// The rules, in priority order: the first one that fully matches a request wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One rule: which requests it selects and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// A label copied into [`AppliedFault::rule`] so journals say which rule fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP method, compared case-insensitively; `None` matches any method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern (`*` one segment, `**` any number, `abc*` a prefix); `None` matches any path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Which of the method-and-path matches the rule applies to; `None` means all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<Nth>,
    /// Chance in `0.0..=1.0` that an otherwise matching request is faulted; `None` means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Time window on the mock's clock; `None` means any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// What happens to a selected request.
    pub action: FaultAction,
}

/// Which of the requests matching a rule's method and path (counted from 1, per rule) it applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nth {
    /// The first matching request the rule applies to (1-based).
    #[serde(default = "one")]
    pub from: u64,
    /// The last matching request the rule applies to, inclusive; `None` means no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
    /// Applies to every `every`-th request starting at `from`.
    #[serde(default = "one")]
    pub every: u64,
}

/// Serde default for [`Nth::from`] and [`Nth::every`].
fn one() -> u64 {
    1
}

impl Nth {
    /// Whether the rule's `count`-th match is selected.
    fn matches(&self, count: u64) -> bool {
        count >= self.from
            && self.to.is_none_or(|to| count <= to)
            // `every == 0` is rejected by validate; treat it as 1 rather than divide by zero.
            && (count - self.from).is_multiple_of(self.every.max(1))
    }
}

/// A time window on the mock's clock: `from` inclusive, `until` exclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    /// Start of the window, inclusive; `None` means since forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// End of the window, exclusive; `None` means forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl TimeWindow {
    /// Whether `at` falls inside the window.
    fn contains(&self, at: Timestamp) -> bool {
        self.from.is_none_or(|from| at >= from) && self.until.is_none_or(|until| at < until)
    }
}

/// What a mock does to a faulted request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum FaultAction {
    /// The request is served normally after `ms` milliseconds.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// The request is answered with this status instead of being served.
    Status {
        /// HTTP status code, `100..=599`.
        status: u16,
        /// `Retry-After` header value in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
        /// Response body; `None` lets the mock use its protocol's error envelope.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<serde_json::Value>,
    },
    /// The connection is closed without a response.
    Drop,
    /// The response is held for `ms` milliseconds, then the connection is closed without a response.
    Timeout {
        /// How long the connection is held open, in milliseconds.
        ms: u64,
    },
}

/// What a fault plan needs to know about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Request path without the query string.
    pub path: &'a str,
    /// Arrival time on the mock's clock.
    pub at: Timestamp,
}

/// A fault chosen for a request, as recorded in the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppliedFault {
    /// The name of the rule that fired, if it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<String>,
    /// The index of the rule that fired in [`FaultPlan::rules`].
    pub rule_index: usize,
    /// The action to carry out.
    pub action: FaultAction,
}

/// The mutable side of a fault plan: how many requests each rule's method and path have matched.
#[derive(Debug, Clone, Default)]
pub struct FaultState {
    /// Per-rule count of matching requests, indexed like [`FaultPlan::rules`]; grown on demand.
    counts: Vec<u64>,
}

/// Every problem found in a fault plan, each prefixed with its location.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid fault plan: {}", problems.join("; "))]
pub struct FaultPlanError {
    /// One line per problem, e.g. `rules[2].probability: must be between 0 and 1, got 1.5`.
    pub problems: Vec<String>,
}

impl FaultRule {
    /// Whether the rule picks requests by their number among its matches: `nth`, and `probability`,
    /// whose draws are keyed by that number. Such a rule faults other requests when requests arrive
    /// in another order, as they do when a client sends several at once.
    pub fn counts_requests(&self) -> bool {
        self.nth.is_some() || self.probability.is_some()
    }
}

impl FaultPlan {
    /// Validates the plan: every problem listed.
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        let mut problems = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if let Some(method) = &rule.method
                && (method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                problems.push(format!("{at}.method: must be an HTTP method (ASCII letters), got {method:?}"));
            }
            if let Some(path) = &rule.path
                && !path.starts_with('/')
            {
                problems.push(format!("{at}.path: must start with \"/\", got {path:?}"));
            }
            if let Some(nth) = &rule.nth {
                if nth.from == 0 {
                    problems.push(format!("{at}.nth.from: must be at least 1 (counts start at 1)"));
                }
                if nth.every == 0 {
                    problems.push(format!("{at}.nth.every: must be at least 1"));
                }
                if let Some(to) = nth.to
                    && to < nth.from
                {
                    problems.push(format!("{at}.nth.to: must not be less than from ({}), got {to}", nth.from));
                }
            }
            if let Some(p) = rule.probability
                && !(0.0..=1.0).contains(&p)
            {
                // NaN fails `contains` too.
                problems.push(format!("{at}.probability: must be between 0 and 1, got {p}"));
            }
            if let Some(TimeWindow { from: Some(from), until: Some(until) }) = &rule.window
                && until <= from
            {
                problems.push(format!("{at}.window.until: must be after from ({from}), got {until}"));
            }
            if let FaultAction::Status { status, .. } = rule.action
                && !(100..=599).contains(&status)
            {
                problems.push(format!("{at}.action.status: must be between 100 and 599, got {status}"));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(FaultPlanError { problems }) }
    }

    /// Decides whether this request gets a fault. The first rule whose method, path, nth, window and probability all match wins.
    ///
    /// Every rule whose method and path match counts the request, even when an earlier rule wins,
    /// so a rule's `nth` does not depend on the rules before it.
    pub fn decide(&self, state: &mut FaultState, request: &RequestInfo<'_>) -> Option<AppliedFault> {
        if state.counts.len() < self.rules.len() {
            state.counts.resize(self.rules.len(), 0);
        }
        let mut winner = None;
        for (index, rule) in self.rules.iter().enumerate() {
            let method_ok = rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(request.method));
            let path_ok = rule.path.as_deref().is_none_or(|p| path_matches(p, request.path));
            if !(method_ok && path_ok) {
                continue;
            }
            state.counts[index] += 1;
            let count = state.counts[index];
            if winner.is_some() {
                continue;
            }
            let selected = rule.nth.as_ref().is_none_or(|nth| nth.matches(count))
                && rule.window.as_ref().is_none_or(|w| w.contains(request.at))
                && rule.probability.is_none_or(|p| unit_draw(self.seed, index, count) < p);
            if selected {
                winner = Some(AppliedFault { rule: rule.name.clone(), rule_index: index, action: rule.action.clone() });
            }
        }
        winner
    }
}

/// A uniform draw in `[0, 1)` keyed by (seed, rule, count): stateless, so adding a rule elsewhere
/// in the plan does not reshuffle this rule's decisions.
fn unit_draw(seed: u64, rule_index: usize, count: u64) -> f64 {
    (mix(seed, rule_index as u64, count) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether `path` matches the glob `pattern`; empty segments (leading or doubled `/`) are ignored.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments_match(&pattern, &path)
}

/// Matches pattern segments against path segments; `**` backtracks over every possible length.
fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((segment, rest)) => match path.split_first() {
            Some((first, path_rest)) => segment_matches(segment, first) && segments_match(rest, path_rest),
            None => false,
        },
    }
}

/// Matches one segment: `*` is anything, `abc*` is a prefix, anything else is literal.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => segment.starts_with(prefix),
        None => pattern == segment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn req<'a>(method: &'a str, path: &'a str) -> RequestInfo<'a> {
        RequestInfo { method, path, at: at("2025-01-01T00:00:00Z") }
    }

    fn rule(action: FaultAction) -> FaultRule {
        FaultRule { name: None, method: None, path: None, nth: None, probability: None, window: None, action }
    }

    fn status(status: u16) -> FaultAction {
        FaultAction::Status { status, retry_after: None, body: None }
    }

    /// Runs `n` identical requests and returns the 1-based positions that got a fault.
    fn faulted(plan: &FaultPlan, n: u64) -> Vec<u64> {
        let mut state = FaultState::default();
        (1..=n).filter(|_| plan.decide(&mut state, &req("GET", "/Users")).is_some()).collect()
    }

    #[test]
    fn glob_patterns_match_segments_prefixes_and_any_depth() {
        let cases = [
            ("/*/scim/v2/Users", "/abc/scim/v2/Users", true),
            ("/*/scim/v2/Users", "/scim/v2/Users", false),
            ("/*/scim/v2/Users", "/abc/scim/v2/Users/1", false),
            ("/**/Groups/*", "/t/scim/v2/Groups/123", true),
            ("/**/Groups/*", "/Groups/123", true),
            ("/**/Groups/*", "/t/scim/v2/Groups", false),
            ("/**", "/", true),
            ("/**", "/a/b/c", true),
            ("/a/**/z", "/a/z", true),
            ("/a/**/z", "/a/b/c/z", true),
            ("/Users*", "/Users", true),
            ("/Users*", "/UsersFoo", true),
            ("/Users*", "/Use", false),
            ("/Users", "/users", false),
            ("/Users", "/Users/", true),
            ("/", "/", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(path_matches(pattern, path), expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn method_is_compared_case_insensitively() {
        let plan =
            FaultPlan { seed: 0, rules: vec![FaultRule { method: Some("post".into()), ..rule(FaultAction::Drop) }] };
        let mut state = FaultState::default();
        assert!(plan.decide(&mut state, &req("POST", "/x")).is_some());
        assert!(plan.decide(&mut state, &req("GET", "/x")).is_none());
    }

    #[test]
    fn nth_selects_from_to_and_every() {
        let with_nth = |from, to, every| FaultPlan {
            seed: 0,
            rules: vec![FaultRule { nth: Some(Nth { from, to, every }), ..rule(FaultAction::Drop) }],
        };
        assert_eq!(faulted(&with_nth(2, None, 1), 5), [2, 3, 4, 5]);
        assert_eq!(faulted(&with_nth(2, Some(3), 1), 5), [2, 3]);
        assert_eq!(faulted(&with_nth(1, None, 3), 10), [1, 4, 7, 10]);
        assert_eq!(faulted(&with_nth(3, Some(8), 2), 10), [3, 5, 7]);
    }

    #[test]
    fn nth_counts_only_requests_matching_method_and_path() {
        let plan = FaultPlan {
            seed: 0,
            rules: vec![FaultRule {
                path: Some("/Users".into()),
                nth: Some(Nth { from: 2, to: Some(2), every: 1 }),
                ..rule(FaultAction::Drop)
            }],
        };
        let mut state = FaultState::default();
        assert!(plan.decide(&mut state, &req("GET", "/Users")).is_none());
        assert!(plan.decide(&mut state, &req("GET", "/Groups")).is_none());
        assert!(plan.decide(&mut state, &req("GET", "/Users")).is_some());
    }

    #[test]
    fn window_includes_from_and_excludes_until() {
        let plan = FaultPlan {
            seed: 0,
            rules: vec![FaultRule {
                window: Some(TimeWindow {
                    from: Some(at("2025-01-01T00:00:10Z")),
                    until: Some(at("2025-01-01T00:00:20Z")),
                }),
                ..rule(FaultAction::Drop)
            }],
        };
        let mut state = FaultState::default();
        let mut hit = |t: &str| {
            let request = RequestInfo { at: at(t), ..req("GET", "/") };
            plan.decide(&mut state, &request).is_some()
        };
        assert!(!hit("2025-01-01T00:00:09.999Z"));
        assert!(hit("2025-01-01T00:00:10Z"));
        assert!(hit("2025-01-01T00:00:19.999Z"));
        assert!(!hit("2025-01-01T00:00:20Z"));
    }

    #[test]
    fn probability_is_deterministic_and_close_to_its_rate() {
        let plan =
            |seed| FaultPlan { seed, rules: vec![FaultRule { probability: Some(0.3), ..rule(FaultAction::Drop) }] };
        let first = faulted(&plan(7), 10_000);
        assert_eq!(first, faulted(&plan(7), 10_000));
        assert_ne!(first, faulted(&plan(8), 10_000));
        let rate = first.len() as f64 / 10_000.0;
        assert!((0.25..0.35).contains(&rate), "rate {rate}");
    }

    #[test]
    fn probability_zero_never_fires_and_one_always_fires() {
        let plan =
            |p| FaultPlan { seed: 1, rules: vec![FaultRule { probability: Some(p), ..rule(FaultAction::Drop) }] };
        assert!(faulted(&plan(0.0), 1000).is_empty());
        assert_eq!(faulted(&plan(1.0), 1000).len(), 1000);
    }

    #[test]
    fn first_matching_rule_wins_while_later_counters_still_advance() {
        let plan = FaultPlan {
            seed: 0,
            rules: vec![
                FaultRule {
                    name: Some("first-two".into()),
                    nth: Some(Nth { from: 1, to: Some(2), every: 1 }),
                    ..rule(status(503))
                },
                FaultRule {
                    name: Some("third".into()),
                    nth: Some(Nth { from: 3, to: Some(3), every: 1 }),
                    ..rule(FaultAction::Drop)
                },
            ],
        };
        let mut state = FaultState::default();
        let names: Vec<Option<String>> =
            (0..4).map(|_| plan.decide(&mut state, &req("GET", "/")).and_then(|f| f.rule)).collect();
        assert_eq!(names, [Some("first-two".into()), Some("first-two".into()), Some("third".into()), None]);
        let mut state = FaultState::default();
        plan.decide(&mut state, &req("GET", "/"));
        plan.decide(&mut state, &req("GET", "/"));
        assert_eq!(
            plan.decide(&mut state, &req("GET", "/")),
            Some(AppliedFault { rule: Some("third".into()), rule_index: 1, action: FaultAction::Drop })
        );
    }

    #[test]
    fn json_uses_the_camel_case_shape() {
        let json = r#"{"seed":7,"rules":[{"method":"POST","path":"/*/scim/v2/Users","nth":{"from":2},"action":{"kind":"status","status":429,"retryAfter":3}}]}"#;
        let plan: FaultPlan = serde_json::from_str(json).unwrap();
        assert_eq!(
            plan,
            FaultPlan {
                seed: 7,
                rules: vec![FaultRule {
                    method: Some("POST".into()),
                    path: Some("/*/scim/v2/Users".into()),
                    nth: Some(Nth { from: 2, to: None, every: 1 }),
                    ..rule(FaultAction::Status { status: 429, retry_after: Some(3), body: None })
                }],
            }
        );
        let back = serde_json::to_string(&plan).unwrap();
        assert_eq!(
            back,
            r#"{"seed":7,"rules":[{"method":"POST","path":"/*/scim/v2/Users","nth":{"from":2,"every":1},"action":{"kind":"status","status":429,"retryAfter":3}}]}"#
        );
        assert_eq!(serde_json::from_str::<FaultPlan>(&back).unwrap(), plan);
    }

    #[test]
    fn every_action_kind_roundtrips() {
        let json = r#"{"rules":[
            {"action":{"kind":"latency","ms":250}},
            {"action":{"kind":"drop"}},
            {"action":{"kind":"timeout","ms":30000}},
            {"name":"x","window":{"from":"2025-01-01T00:00:00Z"},"probability":0.5,
             "action":{"kind":"status","status":500,"body":{"detail":"boom"}}}
        ]}"#;
        let plan: FaultPlan = serde_json::from_str(json).unwrap();
        assert_eq!(plan.seed, 0);
        assert_eq!(plan.rules[0].action, FaultAction::Latency { ms: 250 });
        assert_eq!(plan.rules[1].action, FaultAction::Drop);
        let back = serde_json::to_value(&plan).unwrap();
        assert_eq!(back["rules"][1]["action"], serde_json::json!({"kind": "drop"}));
        assert_eq!(serde_json::from_value::<FaultPlan>(back).unwrap(), plan);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        for json in [
            r#"{"seed":1,"rulez":[]}"#,
            r#"{"rules":[{"pth":"/x","action":{"kind":"drop"}}]}"#,
            r#"{"rules":[{"nth":{"form":2},"action":{"kind":"drop"}}]}"#,
            r#"{"rules":[{"action":{"kind":"status","status":429,"retry_after":3}}]}"#,
            r#"{"rules":[{"action":{"kind":"explode"}}]}"#,
        ] {
            assert!(serde_json::from_str::<FaultPlan>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn validate_accepts_a_good_plan() {
        let plan = FaultPlan {
            seed: 3,
            rules: vec![FaultRule {
                method: Some("PATCH".into()),
                path: Some("/**".into()),
                probability: Some(1.0),
                ..rule(status(429))
            }],
        };
        assert_eq!(plan.validate(), Ok(()));
    }

    #[test]
    fn validate_lists_every_problem_with_its_location() {
        let plan = FaultPlan {
            seed: 0,
            rules: vec![
                FaultRule { method: Some("GE T".into()), path: Some("Users".into()), ..rule(status(600)) },
                FaultRule {
                    nth: Some(Nth { from: 0, to: None, every: 0 }),
                    window: Some(TimeWindow {
                        from: Some(at("2025-01-01T00:00:10Z")),
                        until: Some(at("2025-01-01T00:00:10Z")),
                    }),
                    ..rule(FaultAction::Drop)
                },
                FaultRule {
                    nth: Some(Nth { from: 5, to: Some(4), every: 1 }),
                    probability: Some(1.5),
                    ..rule(FaultAction::Drop)
                },
                FaultRule { method: Some(String::new()), probability: Some(f64::NAN), ..rule(FaultAction::Drop) },
            ],
        };
        let err = plan.validate().unwrap_err();
        assert_eq!(
            err.problems,
            [
                r#"rules[0].method: must be an HTTP method (ASCII letters), got "GE T""#,
                r#"rules[0].path: must start with "/", got "Users""#,
                "rules[0].action.status: must be between 100 and 599, got 600",
                "rules[1].nth.from: must be at least 1 (counts start at 1)",
                "rules[1].nth.every: must be at least 1",
                "rules[1].window.until: must be after from (2025-01-01T00:00:10Z), got 2025-01-01T00:00:10Z",
                "rules[2].nth.to: must not be less than from (5), got 4",
                "rules[2].probability: must be between 0 and 1, got 1.5",
                r#"rules[3].method: must be an HTTP method (ASCII letters), got """#,
                "rules[3].probability: must be between 0 and 1, got NaN",
            ]
        );
        assert!(err.to_string().starts_with("invalid fault plan: rules[0].method"));
    }
}
