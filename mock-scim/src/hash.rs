//! The hasher of the mock's own maps (indexes, request and name counters): foldhash's, with a fixed
//! seed.
//!
//! SipHash was a visible share of every create. Its flood resistance buys nothing here: a mock's
//! keys come from a test, and a slow map would only make that test slow, never change an answer
//! (no map is iterated for output). The seed is fixed all the same, so that a run is the same run.

use std::collections::HashMap;

pub use foldhash::fast::FixedState as FastBuild;

/// The hasher every [`FastMap`] and every stored value's hash uses.
pub const HASHER: FastBuild = FastBuild::with_seed(0);

/// A `HashMap` with [`FastBuild`].
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;
