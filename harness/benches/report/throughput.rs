//! Parts 1 and 2, each run in a child process: the loopback floor alone, and mock-scim at one scale
//! (sequential create, filter and 100-member PATCH, and create at 16 concurrent), every mock-scim
//! load right after the floor's matching load, so both meet the same moment of a noisy machine.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use crate::Plan;
use crate::common::{Rng, client, echo_body, median_f64, proc_status_mib, start_floor};
use crate::load::{Load, Run, Sample, measure};
use crate::markdown::thousands;
use crate::results::{FloorResult, Rate, ScimRow, ScimScale};
use crate::scim::{
    PATCH_MEMBERS, PATCHES_PER_GROUP, Seeded, bearer, create_load, filter_load, patch_load, seed_scale, start_scim,
};

/// Tasks sharing the client in the concurrent mode.
pub const CONCURRENCY: usize = 16;

/// The floor's four loads: `GET` and echo `POST`, sequential and at 16 concurrent.
pub async fn floor(plan: &Plan) -> FloorResult {
    let client = client();
    let origin = start_floor().await;
    let echo = echo_body();
    let echo_bytes = echo.len();
    let get = Load::get(format!("{origin}/"));
    let post = Load::echo(format!("{origin}/echo"), echo);
    measure(&client, &get, plan.warmup, CONCURRENCY).await;
    measure(&client, &post, plan.warmup, CONCURRENCY).await;
    let mut rows = Vec::new();
    for (what, load) in [("GET", &get), ("POST echo", &post)] {
        for (tasks, total) in [(1, plan.floor_seq), (CONCURRENCY, plan.floor_x16)] {
            let mut runs = Vec::new();
            for _ in 0..plan.reps {
                runs.push(measure(&client, load, total, tasks).await);
            }
            let rate = Rate::from(Sample::of(&runs));
            eprintln!("floor {what:<9} x{tasks:<2} {:>8.0} req/s, p50 {:.0} µs", rate.rps, rate.p50_us);
            rows.push((what.to_owned(), tasks, rate));
        }
    }
    FloorResult { rows, echo_bytes }
}

/// The mock-scim operations, as the report names them.
pub const CREATE: &str = "create";
pub const FILTER: &str = "filter";
pub const PATCH: &str = "PATCH +100";

/// mock-scim seeded with `users` users (and `users / 100` groups of 10), then loaded over HTTP.
pub async fn scim_scale(plan: &Plan, users: usize) -> ScimScale {
    let client = client();
    let origin = start_floor().await;
    let floor_get = Load::get(format!("{origin}/"));
    let floor_post = Load::echo(format!("{origin}/echo"), echo_body());
    measure(&client, &floor_get, plan.warmup, CONCURRENCY).await;
    measure(&client, &floor_post, plan.warmup, CONCURRENCY).await;

    let rss_before_mib = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let mock = start_scim().await;
    let endpoint = mock.scim_endpoint();
    let auth = Some(bearer(&mock));
    let patch_total = plan.reps * plan.patch_seq;
    let seeding = Instant::now();
    let seeded = seed_scale(&mock, users, patch_total.div_ceil(PATCHES_PER_GROUP));
    let rss_seeded_mib = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let groups = Seeded::member_groups(users);
    eprintln!(
        "mock-scim {users}: seeded {users} users, {groups} groups of 10, {} empty PATCH targets in {:.2} s; VmRSS {rss_before_mib:.0} -> {rss_seeded_mib:.0} MiB",
        seeded.patch_groups.len(),
        seeding.elapsed().as_secs_f64()
    );

    let mut rng = Rng(0x5eed ^ users as u64);
    let mut filter = |total: usize| {
        let names = (0..total).map(|_| format!("user-{}", rng.below(users))).collect();
        filter_load(&endpoint, auth.clone(), names)
    };
    let mut created = 0;
    let mut create = |total: usize| {
        created += total;
        create_load(&endpoint, auth.clone(), "new", created - total..created)
    };
    let mut patched = 0;
    let mut patch = |total: usize| {
        patched += total;
        patch_load(&endpoint, auth.clone(), &seeded, patched - total..patched)
    };
    let warmup = filter(plan.warmup);
    measure(&client, &warmup, plan.warmup, CONCURRENCY).await;

    let order = [
        (CREATE, 1, plan.create_seq),
        (FILTER, 1, plan.filter_seq),
        (PATCH, 1, plan.patch_seq),
        (CREATE, CONCURRENCY, plan.create_x16),
    ];
    let mut rows = Vec::new();
    for (op, tasks, total) in order {
        let (mut floor_runs, mut ours_runs, mut ratios): (Vec<Run>, Vec<Run>, Vec<f64>) = Default::default();
        for _ in 0..plan.reps {
            // Requests are prepared before the floor runs, so neither side pays for it.
            let (load, floor): (Arc<Load>, _) = match op {
                FILTER => (filter(total), &floor_get),
                CREATE => (create(total), &floor_post),
                _ => (patch(total), &floor_post),
            };
            let floor_run = measure(&client, floor, total, tasks).await;
            let ours = measure(&client, &load, total, tasks).await;
            eprintln!(
                "  {op:<10} x{tasks:<2} {:>8.0} req/s (floor {:>8.0}) ratio {:.2}",
                ours.rps,
                floor_run.rps,
                ours.rps / floor_run.rps
            );
            ratios.push(ours.rps / floor_run.rps);
            floor_runs.push(floor_run);
            ours_runs.push(ours);
        }
        rows.push(ScimRow {
            op: op.to_owned(),
            tasks,
            ours: Sample::of(&ours_runs).into(),
            floor: Sample::of(&floor_runs).into(),
            ratio: median_f64(ratios),
        });
    }

    // What the load left behind: every request created what it should have.
    let note = {
        let world = mock.state.world();
        let tenant = &world.tenants[mock.tenant_id()];
        let targets: HashSet<&str> = seeded.patch_groups.iter().map(String::as_str).collect();
        let added: usize =
            tenant.groups_with_members().filter(|(g, _)| targets.contains(g.id.as_str())).map(|(_, m)| m.len()).sum();
        let users_created = tenant.user_count() - users;
        assert_eq!(users_created, created, "every POST should have created one user");
        assert_eq!(added, patched * PATCH_MEMBERS, "every PATCH should have added 100 memberships");
        format!(
            "{} users created by POST and {} memberships added by PATCH, as sent; {} users at the end; the journal \
             holds {} exchanges",
            thousands(users_created as u64),
            thousands(added as u64),
            thousands(tenant.user_count() as u64),
            thousands(world.core.journal.len() as u64)
        )
    };
    ScimScale {
        users,
        groups,
        memberships: groups * 10,
        rows,
        rss_before_mib,
        rss_seeded_mib,
        hwm_mib: proc_status_mib("VmHWM:").unwrap_or(f64::NAN),
        note,
    }
}
