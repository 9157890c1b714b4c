//! Both mocks as a container (feature `containers`): `harness serve` in the `entra-aws-harness`
//! image that `docker/build.sh` builds, started through testcontainers, its ports published on
//! 127.0.0.1 only, and the same endpoints as `harness serve --env-file` writes, with the host's
//! mapped ports in the URLs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use harness::containers::ProvisioningPair;
//!
//! let pair = ProvisioningPair::start().await?; // the seed story, wired
//! let env = harness::TestEnv::attach(pair.env().clone())?;
//! env.advance("PT40M").await?;
//! println!("{:?}", env.aws_state().await?.group_names());
//! # Ok(())
//! # }
//! ```
//!
//! No image is ever pulled: an image that is not there is an error that says how to build it, and
//! so is a Docker daemon that does not answer.

use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use crate::serve::Env;

/// The image `docker/build.sh` builds, without its tag.
pub const IMAGE: &str = "entra-aws-harness";
/// The tag `docker/build.sh` gives unless `TAG` is set.
pub const DEFAULT_TAG: &str = "dev";
/// The scenario served unless told otherwise: the seed story, from the image's `/scenarios`.
pub const SEED_STORY: &str = "/scenarios/library/00_seed_story.toml";
/// mock-graph's port inside the container.
const GRAPH_PORT: u16 = 9200;
/// mock-scim's port inside the container.
const SCIM_PORT: u16 = 9100;
/// The line `harness serve` prints last, once both mocks are up and wired.
const READY: &str = "SERVICE_PRINCIPAL_ID=";

/// Why the pair could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ContainersError {
    /// No Docker daemon answered.
    #[error("no Docker daemon answers ({0}); start one, or set DOCKER_HOST to where one listens")]
    NoDaemon(String),
    /// The image is not there (it is never pulled).
    #[error("the image {0} is not there; build it first with docker/build.sh (nothing is pulled)")]
    NoImage(String),
    /// The container did not start, or `harness serve` in it did not get to its endpoints.
    #[error("the container of {image} did not start: {reason}")]
    Start {
        /// The image, with its tag.
        image: String,
        /// What testcontainers or Docker said.
        reason: String,
    },
    /// What `harness serve` printed lacks an endpoint.
    #[error("the container's `harness serve` printed no {0}")]
    Missing(&'static str),
}

/// `harness serve` in a container: both mocks wired as a scenario's `configure` leaves them. The
/// container is removed when this is dropped.
pub struct ProvisioningPair {
    container: ContainerAsync<GenericImage>,
    env: Env,
}

impl std::fmt::Debug for ProvisioningPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningPair").field("container", &self.container.id()).finish_non_exhaustive()
    }
}

/// What to start: the image's tag and the scenario (a path inside the image).
#[derive(Debug, Clone)]
pub struct PairOptions {
    /// The image's tag.
    pub tag: String,
    /// The scenario `harness serve` is given, a path inside the image (`/scenarios/library/…`).
    pub scenario: String,
    /// How long the container may take to print its endpoints.
    pub startup_timeout: Duration,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            tag: DEFAULT_TAG.to_owned(),
            scenario: SEED_STORY.to_owned(),
            startup_timeout: Duration::from_secs(60),
        }
    }
}

impl ProvisioningPair {
    /// The seed story in `entra-aws-harness:dev`.
    pub async fn start() -> Result<ProvisioningPair, ContainersError> {
        ProvisioningPair::start_with(PairOptions::default()).await
    }

    /// The given scenario in the given image.
    pub async fn start_with(options: PairOptions) -> Result<ProvisioningPair, ContainersError> {
        let image = format!("{IMAGE}:{}", options.tag);
        let docker = Docker::connect_with_defaults().map_err(|err| ContainersError::NoDaemon(err.to_string()))?;
        docker.ping().await.map_err(|err| ContainersError::NoDaemon(err.to_string()))?;
        if docker.inspect_image(&image).await.is_err() {
            return Err(ContainersError::NoImage(image));
        }
        let failed = |err: testcontainers::TestcontainersError| ContainersError::Start {
            image: image.clone(),
            reason: err.to_string(),
        };
        let container = GenericImage::new(IMAGE, &options.tag)
            .with_exposed_port(GRAPH_PORT.tcp())
            .with_exposed_port(SCIM_PORT.tcp())
            .with_wait_for(WaitFor::message_on_stdout(READY))
            .with_cmd([
                "serve",
                options.scenario.as_str(),
                "--graph-listen",
                &format!("0.0.0.0:{GRAPH_PORT}"),
                "--scim-listen",
                &format!("0.0.0.0:{SCIM_PORT}"),
            ])
            .with_startup_timeout(options.startup_timeout)
            .with_host_config_modifier(publish_on_loopback)
            .start()
            .await
            .map_err(failed)?;
        let stdout = container.stdout_to_vec().await.map_err(failed)?;
        let graph = container.get_host_port_ipv4(GRAPH_PORT).await.map_err(failed)?;
        let scim = container.get_host_port_ipv4(SCIM_PORT).await.map_err(failed)?;
        let env = published(&Env::parse(&String::from_utf8_lossy(&stdout)), graph, scim)?;
        Ok(ProvisioningPair { container, env })
    }

    /// The endpoints and credentials, as `harness serve --env-file` writes them, reachable from
    /// this host: what [`crate::TestEnv::attach`] and a sync tool of one's own take.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The container's id, for `docker logs` and the like.
    pub fn id(&self) -> &str {
        self.container.id()
    }
}

/// Both ports on 127.0.0.1 only, on ports Docker picks (testcontainers would bind every interface).
fn publish_on_loopback(config: &mut HostConfig) {
    let loopback = || Some(vec![PortBinding { host_ip: Some("127.0.0.1".to_owned()), host_port: Some(String::new()) }]);
    config.publish_all_ports = Some(false);
    config.port_bindings =
        Some([GRAPH_PORT, SCIM_PORT].into_iter().map(|port| (format!("{port}/tcp"), loopback())).collect());
}

/// The env as printed inside the container, its URLs moved to the ports published on this host.
fn published(inside: &Env, graph_port: u16, scim_port: u16) -> Result<Env, ContainersError> {
    let graph_inside = format!("http://127.0.0.1:{GRAPH_PORT}");
    let scim_inside = format!("http://127.0.0.1:{SCIM_PORT}");
    let graph_here = format!("http://127.0.0.1:{graph_port}");
    let scim_here = format!("http://127.0.0.1:{scim_port}");
    for key in ["GRAPH_URL", "SCIM_URL", "SCIM_BASE_URL", "SERVICE_PRINCIPAL_ID"] {
        if inside.get(key).is_none_or(str::is_empty) {
            return Err(ContainersError::Missing(key));
        }
    }
    let pairs = inside
        .pairs
        .iter()
        .map(|(key, value)| {
            let value = match *key {
                "GRAPH_URL" => value.replacen(&graph_inside, &graph_here, 1),
                "SCIM_URL" | "SCIM_BASE_URL" => value.replacen(&scim_inside, &scim_here, 1),
                _ => value.clone(),
            };
            (*key, value)
        })
        .collect();
    Ok(Env { pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urls_move_to_the_published_ports_and_nothing_else_changes() {
        let printed = "GRAPH_URL=http://127.0.0.1:9200\nGRAPH_ADMIN_TOKEN=t\nSCIM_URL=http://127.0.0.1:9100/abc/scim/v2/\n\
                       SCIM_BASE_URL=http://127.0.0.1:9100\nSERVICE_PRINCIPAL_ID=sp\n";
        let env = published(&Env::parse(printed), 32768, 32769).unwrap();
        assert_eq!(env.get("GRAPH_URL"), Some("http://127.0.0.1:32768"));
        assert_eq!(env.get("SCIM_URL"), Some("http://127.0.0.1:32769/abc/scim/v2/"));
        assert_eq!(env.get("SCIM_BASE_URL"), Some("http://127.0.0.1:32769"));
        assert_eq!(env.get("GRAPH_ADMIN_TOKEN"), Some("t"));
    }

    #[test]
    fn an_env_without_its_endpoints_is_refused() {
        let err = published(&Env::parse("GRAPH_URL=http://127.0.0.1:9200\n"), 1, 2).unwrap_err();
        assert!(matches!(err, ContainersError::Missing("SCIM_URL")), "{err}");
    }

    #[test]
    fn only_loopback_is_published() {
        let mut config = HostConfig::default();
        publish_on_loopback(&mut config);
        let bindings = config.port_bindings.unwrap();
        assert_eq!(bindings.len(), 2);
        for binding in bindings.values().flatten().flatten() {
            assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        }
    }
}
