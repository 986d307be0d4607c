//! A running Patroni cluster (started by `.ci/ha.sh`): which node leads,
//! killing its postmaster with SIGKILL, waiting for the failover (another
//! node leads) and for the old primary to rejoin as a replica, and the
//! replication lag its REST API reports. Only 127.0.0.1 nodes are driven.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::BankError;

/// How long one REST call to a node may take, in milliseconds.
const REST_MILLIS_MAX: u64 = 800;
/// How long a node may take to lead (before a kill, or after it), in seconds.
const LEADER_WAIT_SECS: u64 = 60;
/// How long the killed primary may take to rejoin as a replica, in seconds.
const REJOIN_WAIT_SECS: u64 = 60;
/// How often the cluster is polled, in milliseconds.
const POLL_MILLIS: u64 = 100;

/// One Patroni-managed PostgreSQL node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its Patroni REST API (`http://127.0.0.1:24008`).
    pub rest: String,
    /// Its data directory (holding `postmaster.pid`).
    pub data_dir: PathBuf,
}

/// What one failover took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failover {
    /// From the kill until another node answered as the primary.
    pub promoted: Duration,
    /// From the kill until the old primary was a replica again (`None`: not within the bound).
    pub rejoined: Option<Duration>,
}

/// The cluster under test.
#[derive(Debug, Clone)]
pub struct Cluster {
    nodes: Vec<Node>,
    http: reqwest::Client,
}

impl Cluster {
    /// The cluster of `--cluster-nodes` (`REST_URL=DATA_DIR`, ...).
    pub fn new(specs: &[String]) -> Result<Cluster, BankError> {
        let nodes = specs.iter().map(|spec| parse_node(spec)).collect::<Result<Vec<_>, _>>()?;
        if nodes.len() < 2 {
            return Err(BankError::Options("a cluster needs at least two --cluster-nodes".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(REST_MILLIS_MAX))
            .build()
            .map_err(|e| BankError::http("building the REST client", e))?;
        Ok(Cluster { nodes, http })
    }

    /// The node answering `GET /primary` with 200, if one does.
    pub async fn leader(&self) -> Option<usize> {
        for (index, node) in self.nodes.iter().enumerate() {
            if self.answers(node, "/primary").await {
                return Some(index);
            }
        }
        None
    }

    /// Waits (bounded) until a node leads.
    pub async fn wait_for_leader(&self, other_than: Option<usize>) -> Result<usize, BankError> {
        let deadline = Instant::now() + Duration::from_secs(LEADER_WAIT_SECS);
        loop {
            match self.leader().await {
                Some(leader) if Some(leader) != other_than => return Ok(leader),
                _ if Instant::now() >= deadline => {
                    return Err(BankError::Cluster(format!("no new primary within {LEADER_WAIT_SECS} s")));
                }
                _ => tokio::time::sleep(Duration::from_millis(POLL_MILLIS)).await,
            }
        }
    }

    /// SIGKILLs the primary's postmaster, waits until another node leads,
    /// then (bounded) until the old primary is a replica again.
    pub async fn kill_primary(&self) -> Result<Failover, BankError> {
        let old = self.wait_for_leader(None).await?;
        let node = &self.nodes[old];
        let pid = postmaster_pid(node)?;
        kill(Pid::from_raw(pid), Signal::SIGKILL).map_err(|e| BankError::io("SIGKILL the postmaster", e.into()))?;
        let killed = Instant::now();
        self.wait_for_leader(Some(old)).await?;
        let promoted = killed.elapsed();
        let deadline = killed + Duration::from_secs(REJOIN_WAIT_SECS);
        let mut rejoined = None;
        while Instant::now() < deadline {
            if self.answers(node, "/replica").await {
                rejoined = Some(killed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(POLL_MILLIS)).await;
        }
        if rejoined.is_none() {
            eprintln!("bank: the killed primary {} did not rejoin within {REJOIN_WAIT_SECS} s", node.rest);
        }
        Ok(Failover { promoted, rejoined })
    }

    /// The largest replication lag (bytes) any replica reports now, per
    /// Patroni's `GET /cluster`.
    pub async fn lag_bytes(&self) -> Option<u64> {
        for node in &self.nodes {
            let Ok(response) = self.http.get(format!("{}/cluster", node.rest)).send().await else { continue };
            let Ok(body) = response.json::<Value>().await else { continue };
            return Some(max_lag(&body));
        }
        None
    }

    async fn answers(&self, node: &Node, path: &str) -> bool {
        matches!(self.http.get(format!("{}{path}", node.rest)).send().await, Ok(r) if r.status().is_success())
    }
}

/// `REST_URL=DATA_DIR`.
fn parse_node(spec: &str) -> Result<Node, BankError> {
    let (rest, data_dir) =
        spec.split_once('=').ok_or_else(|| BankError::Options(format!("--cluster-nodes: `{spec}` is not URL=DIR")))?;
    if !rest.starts_with("http://127.0.0.1:") {
        return Err(BankError::Options(format!("--cluster-nodes: `{rest}` is not an http://127.0.0.1 address")));
    }
    Ok(Node { rest: rest.trim_end_matches('/').to_owned(), data_dir: PathBuf::from(data_dir) })
}

/// The postmaster's pid: the first line of `postmaster.pid`.
fn postmaster_pid(node: &Node) -> Result<i32, BankError> {
    let path = node.data_dir.join("postmaster.pid");
    let text = std::fs::read_to_string(&path).map_err(|e| BankError::io(format!("reading {}", path.display()), e))?;
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| BankError::Cluster(format!("no pid in {}", path.display())))
}

/// The largest numeric `lag` of the members of a `GET /cluster` answer.
fn max_lag(body: &Value) -> u64 {
    body["members"].as_array().into_iter().flatten().filter_map(|m| m["lag"].as_u64()).max().unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed expectation must panic
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nodes_are_rest_url_equals_data_dir_on_loopback_only() {
        let node = parse_node("http://127.0.0.1:24008/=/tmp/x/node0/data").unwrap();
        assert_eq!(node, Node { rest: "http://127.0.0.1:24008".into(), data_dir: PathBuf::from("/tmp/x/node0/data") });
        assert!(parse_node("http://127.0.0.1:24008").is_err());
        assert!(parse_node("http://10.0.0.1:58008=/d").is_err());
        assert!(Cluster::new(&["http://127.0.0.1:1=/a".into()]).is_err());
    }

    #[test]
    fn the_lag_is_the_largest_number_any_member_reports() {
        let body = json!({"members": [
            {"name": "a", "role": "leader"},
            {"name": "b", "role": "sync_standby", "lag": 0},
            {"name": "c", "role": "replica", "lag": 4096},
            {"name": "d", "role": "replica", "lag": "unknown"},
        ]});
        assert_eq!(max_lag(&body), 4096);
        assert_eq!(max_lag(&json!({})), 0);
    }
}
