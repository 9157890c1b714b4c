//! Paged Graph collections (`/users?$top=`, `/users/delta`) walked through their nextLinks, every
//! item kept and checked.
//!
//! Included by path from the benches of mock-graph and harness (see `common.rs`, which it needs
//! included as `common`).

// Each bench uses its own part of this file.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;

/// `Authorization: Bearer {token}`.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value")
}

/// A `GET` with a bearer token, answered 200 with JSON: its latency, its body parsed, its size.
pub async fn get_json(client: &reqwest::Client, url: &str, auth: &HeaderValue, what: &str) -> (Duration, Value, usize) {
    let (elapsed, body) = crate::common::send(client.get(url).header(AUTHORIZATION, auth.clone()), 200, what).await;
    let value = serde_json::from_slice(&body).unwrap_or_else(|err| panic!("{what}: not JSON ({err})"));
    (elapsed, value, body.len())
}

/// One walk through a paged collection: nextLinks followed verbatim until none is left.
pub struct Walk {
    /// Sum of the page latencies: time spent waiting on the server, client-side parsing excluded.
    pub total: Duration,
    /// Each page's latency, in order.
    pub pages: Vec<Duration>,
    /// Each page's item count, in order.
    pub sizes: Vec<usize>,
    /// Every item of every page.
    pub items: Vec<Value>,
    /// Response bytes over all pages.
    pub bytes: usize,
    /// The last page's `@odata.deltaLink`, if any.
    pub delta_link: Option<String>,
}

/// Follows `@odata.nextLink` from `url` until a page has none; panics after `max_pages` pages.
pub async fn walk(client: &reqwest::Client, url: &str, auth: &HeaderValue, max_pages: usize, what: &str) -> Walk {
    let mut walk = Walk {
        total: Duration::ZERO,
        pages: Vec::new(),
        sizes: Vec::new(),
        items: Vec::new(),
        bytes: 0,
        delta_link: None,
    };
    let mut url = url.to_owned();
    loop {
        assert!(walk.pages.len() < max_pages, "{what}: still a nextLink after {max_pages} pages ({url})");
        let (elapsed, mut page, bytes) = get_json(client, &url, auth, what).await;
        walk.total += elapsed;
        walk.pages.push(elapsed);
        walk.bytes += bytes;
        match page.get_mut("value").map(Value::take) {
            Some(Value::Array(items)) => {
                walk.sizes.push(items.len());
                walk.items.extend(items);
            }
            _ => panic!("{what}: a page without a value array: {page}"),
        }
        match page.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => url = next.to_owned(),
            None => {
                walk.delta_link = page.get("@odata.deltaLink").and_then(Value::as_str).map(str::to_owned);
                return walk;
            }
        }
    }
}

impl Walk {
    /// Latencies of the pages that hold `size` items: a short last page is not a page of the size asked.
    pub fn full_pages(&self, size: usize) -> impl Iterator<Item = Duration> + '_ {
        self.pages.iter().zip(&self.sizes).filter(move |(_, n)| **n == size).map(|(d, _)| *d)
    }

    /// Full pages of the first half of the walk and of the second: if a page cost more the further
    /// it is, the second half would be the slower.
    pub fn halves(&self, size: usize, early: &mut Vec<Duration>, late: &mut Vec<Duration>) {
        let half = self.pages.len() / 2;
        for (i, (d, n)) in self.pages.iter().zip(&self.sizes).enumerate() {
            if *n == size {
                if i < half { early.push(*d) } else { late.push(*d) }
            }
        }
    }
}

/// The `id` of each item, in order.
pub fn ids_of(items: &[Value]) -> Vec<&str> {
    items.iter().map(|item| item.get("id").and_then(Value::as_str).expect("every item has an id")).collect()
}

/// Checks that a walk returned every seeded user exactly once.
pub fn check_everyone(items: &[Value], seeded: &HashSet<&str>, what: &str) {
    let returned = ids_of(items);
    let distinct: HashSet<&str> = returned.iter().copied().collect();
    assert_eq!(returned.len(), seeded.len(), "{what}: {} users returned, {} seeded", returned.len(), seeded.len());
    assert_eq!(distinct.len(), returned.len(), "{what}: a user returned twice");
    assert!(distinct == *seeded, "{what}: the returned ids are not the seeded ones");
}
