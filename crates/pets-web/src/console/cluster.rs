//! The cluster drawn by node, for the projector (`/present`): one column
//! per Swarm node, each with its replicas as tiles (coloured by version,
//! marked unhealthy or faulty) and the Consul servers that run there.
//!
//! The fleet says which node each replica is on (`PETS_NODE`). Consul's
//! servers carry no node, so a server is placed by its name: the prod stack
//! names each `<service>-<node>` (`pets_db-node-2`). A server whose name
//! names no node of the fleet is listed apart, in a last column with no
//! name, still marked leader or not.
//! The [`events`](super::events) stream sends this view as `cluster`
//! whenever the fleet changes, so the page's script only draws it.

use pets_store::{Fleet, ReplicaRecord, ServerInfo, StoreKind};
use serde::Serialize;

use super::shades::Shades;

/// The column for replicas that do not say which node they are on.
pub const NO_NODE: &str = "this machine";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClusterView {
    /// By node name; last, with the name `""`, the Consul servers whose
    /// name matches no node, if any.
    pub nodes: Vec<NodeColumn>,
    /// The versions in view, oldest name first; a tile's `shade` indexes
    /// it (see [`Shades`]).
    pub versions: Vec<String>,
    /// Whether Consul has a quorum; `None` when not known, or not Consul.
    pub quorum: Option<bool>,
    /// Consul is electing a leader (for less time than an election takes).
    pub electing: bool,
    pub consul: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeColumn {
    pub name: String,
    pub replicas: Vec<Tile>,
    pub servers: Vec<ServerTile>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tile {
    pub id: String,
    pub label: String,
    pub version: String,
    /// The version's place in [`ClusterView::versions`], for its colour.
    pub shade: usize,
    pub healthy: bool,
    pub faulty: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServerTile {
    pub name: String,
    pub leader: bool,
    pub voter: bool,
}

impl ClusterView {
    /// The fleet, each version in its colour among `shades`.
    pub fn shaded(fleet: &Fleet, shades: &Shades) -> Self {
        let mut nodes: Vec<NodeColumn> = Vec::new();
        for replica in &fleet.replicas {
            let name = replica.identity.node.as_deref().unwrap_or(NO_NODE);
            let column = match nodes.iter().position(|n| n.name == name) {
                Some(i) => &mut nodes[i],
                None => {
                    nodes.push(NodeColumn {
                        name: name.to_owned(),
                        replicas: Vec::new(),
                        servers: Vec::new(),
                    });
                    nodes.last_mut().expect("just pushed")
                }
            };
            column.replicas.push(tile(replica, shades));
        }
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut unplaced = Vec::new();
        for server in &fleet.store.servers {
            let tile = ServerTile {
                name: server.name.clone(),
                leader: server.leader,
                voter: server.voter,
            };
            match nodes.iter_mut().find(|n| runs_on(server, &n.name)) {
                Some(column) => column.servers.push(tile),
                None => unplaced.push(tile),
            }
        }
        if !unplaced.is_empty() {
            nodes.push(NodeColumn {
                name: String::new(),
                replicas: Vec::new(),
                servers: unplaced,
            });
        }
        let consul = fleet.store.kind == StoreKind::Consul;
        Self {
            nodes,
            versions: shades.versions().to_vec(),
            quorum: if consul { fleet.store.quorum } else { None },
            electing: consul && fleet.store.electing,
            consul,
        }
    }
}

fn tile(replica: &ReplicaRecord, shades: &Shades) -> Tile {
    let who = &replica.identity;
    let label = match (&who.service, &who.slot) {
        (Some(service), Some(slot)) => format!("{service}.{slot}"),
        _ => who.host.clone(),
    };
    Tile {
        id: who.id.clone(),
        label,
        shade: shades.of(&who.version),
        version: who.version.clone(),
        healthy: replica.healthy,
        faulty: replica.faults != Default::default(),
    }
}

/// Whether the server's name says it runs on `node`: the node's name
/// itself, or `<anything>-<node>`.
fn runs_on(server: &ServerInfo, node: &str) -> bool {
    node != NO_NODE
        && (server.name == node
            || server
                .name
                .strip_suffix(node)
                .is_some_and(|rest| rest.ends_with('-')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pets_store::{FleetStore, ReplicaIdentity};

    /// The fleet, shaded by the versions it runs.
    fn view(fleet: &Fleet) -> ClusterView {
        let running = fleet.replicas.iter().map(|r| r.identity.version.as_str());
        ClusterView::shaded(fleet, &Shades::new(running))
    }

    fn replica(id: &str, node: Option<&str>, version: &str, healthy: bool) -> ReplicaRecord {
        ReplicaRecord {
            identity: ReplicaIdentity {
                id: id.into(),
                host: format!("host-{id}"),
                node: node.map(Into::into),
                service: Some("pets_web".into()),
                slot: Some(id.into()),
                version: version.into(),
                ..Default::default()
            },
            healthy,
            last_seen: String::new(),
            pets_served: 0,
            votes: 0,
            votes_refused: 0,
            faults: Default::default(),
        }
    }

    fn server(name: &str, leader: bool) -> ServerInfo {
        ServerInfo {
            name: name.into(),
            address: "10.0.0.1:8300".into(),
            voter: true,
            leader,
        }
    }

    #[test]
    fn replicas_are_grouped_by_node_and_shaded_by_version() {
        let mut faulty = replica("3", Some("node-1"), "2.0", true);
        faulty.faults.spec.latency_ms = Some(200);
        let fleet = Fleet {
            replicas: vec![
                replica("1", Some("node-2"), "1.0", true),
                replica("2", Some("node-1"), "1.0", false),
                faulty,
            ],
            store: FleetStore {
                kind: StoreKind::Consul,
                quorum: Some(true),
                electing: false,
                servers: vec![
                    server("pets_db-node-1", false),
                    server("pets_db-node-2", true),
                    server("consul-a", false),
                ],
                leader: None,
            },
        };
        let view = view(&fleet);
        assert_eq!(view.versions, ["1.0", "2.0"]);
        let names: Vec<_> = view.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node-1", "node-2", ""], "consul-a names no node");
        let one = &view.nodes[0];
        assert_eq!(one.replicas.len(), 2);
        assert_eq!(one.replicas[0].label, "pets_web.2");
        assert!(!one.replicas[0].healthy && !one.replicas[0].faulty);
        assert!(one.replicas[1].faulty && one.replicas[1].shade == 1);
        assert_eq!(one.servers[0].name, "pets_db-node-1");
        assert!(view.nodes[1].servers[0].leader);
        assert_eq!(view.nodes[2].servers[0].name, "consul-a");
        assert_eq!(view.quorum, Some(true));
    }

    #[test]
    fn a_name_that_only_contains_the_node_does_not_place_a_server() {
        assert!(runs_on(&server("node-1", false), "node-1"));
        assert!(runs_on(&server("db-node-1", false), "node-1"));
        assert!(!runs_on(&server("db-node-11", false), "node-1"));
        assert!(!runs_on(&server("dbnode-1", false), "node-1"));
        assert!(!runs_on(&server("anything", false), NO_NODE));
    }

    #[test]
    fn replicas_without_a_node_share_one_column_and_no_servers() {
        let fleet = Fleet {
            replicas: vec![replica("1", None, "1.0", true)],
            store: FleetStore::default(),
        };
        let view = view(&fleet);
        assert_eq!(view.nodes.len(), 1);
        assert_eq!(view.nodes[0].name, NO_NODE);
        assert!(!view.consul && view.quorum.is_none());
    }
}
