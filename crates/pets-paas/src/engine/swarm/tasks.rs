//! What the Swarm says about where instances run: the nodes (by id, with
//! whether they take tasks) and, for each service, the node of its running
//! task and how many earlier tasks of it had started. A service's task
//! starts again only when the one before it was lost (its node went down,
//! or it stopped), and an instance keeps its votes in memory, so each of
//! those earlier tasks is a fresh start without them.

use std::collections::HashMap;

use bollard::models::{NodeSpecAvailabilityEnum, NodeState, Task, TaskState};
use bollard::query_parameters::ListNodesOptions;
use bollard::Docker;

use super::super::calls::refused;
use super::super::EngineError;

/// A node as the Swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmNode {
    pub name: String,
    /// Its engine answers the managers: tasks there run.
    pub up: bool,
    /// Up, and neither drained nor paused: new tasks may go there.
    pub takes_tasks: bool,
}

/// Every node, by id.
pub async fn node_table(docker: &Docker) -> Result<HashMap<String, SwarmNode>, EngineError> {
    let nodes = docker
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(refused("list nodes"))?;
    Ok(nodes
        .into_iter()
        .filter_map(|n| {
            let name = n.description?.hostname?;
            let active =
                n.spec.and_then(|s| s.availability) == Some(NodeSpecAvailabilityEnum::ACTIVE);
            let up = n.status.and_then(|s| s.state) == Some(NodeState::READY);
            let node = SwarmNode {
                name,
                up,
                takes_tasks: up && active,
            };
            Some((n.id?, node))
        })
        .collect())
}

/// One service's tasks, as far as an instance is concerned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tasks {
    /// The node id of the task running now, if one is.
    pub running_on: Option<String>,
    /// Earlier tasks that had started (a container was made for them):
    /// each time after the first, the instance started afresh.
    pub restarts: u32,
}

/// Every service's [`Tasks`], by service id, from one listing of tasks (the
/// Swarm keeps a few ended tasks of each service, which is where the
/// restarts are read).
pub async fn by_service(docker: &Docker) -> Result<HashMap<String, Tasks>, EngineError> {
    let tasks = docker
        .list_tasks(None::<bollard::query_parameters::ListTasksOptions>)
        .await
        .map_err(refused("list tasks"))?;
    Ok(tally(tasks))
}

fn tally(tasks: Vec<Task>) -> HashMap<String, Tasks> {
    let mut services: HashMap<String, Tasks> = HashMap::new();
    for task in tasks {
        let Some(service) = task.service_id else {
            continue;
        };
        let state = task.status.as_ref().and_then(|s| s.state);
        let started = task
            .status
            .as_ref()
            .and_then(|s| s.container_status.as_ref())
            .and_then(|c| c.container_id.as_deref())
            .is_some_and(|id| !id.is_empty());
        let entry = services.entry(service).or_default();
        if task.desired_state == Some(TaskState::RUNNING) {
            if state == Some(TaskState::RUNNING) {
                entry.running_on = task.node_id;
            }
        } else if started {
            entry.restarts += 1;
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerStatus, TaskStatus};

    fn task(service: &str, node: &str, desired: TaskState, state: TaskState, made: bool) -> Task {
        Task {
            service_id: Some(service.into()),
            node_id: Some(node.into()),
            desired_state: Some(desired),
            status: Some(TaskStatus {
                state: Some(state),
                container_status: made.then(|| ContainerStatus {
                    container_id: Some("c0ffee".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_task_lost_with_its_node_is_a_restart_and_the_new_one_runs() {
        use TaskState::*;
        let tasks = tally(vec![
            // Lost with node3: still "running" as last heard, told to stop.
            task("a", "node3", SHUTDOWN, RUNNING, true),
            task("a", "node2", RUNNING, RUNNING, true),
            // Never started anywhere: no container, no votes lost.
            task("b", "node3", SHUTDOWN, PENDING, false),
            task("b", "node1", RUNNING, STARTING, true),
            task("c", "node1", RUNNING, RUNNING, true),
        ]);
        let a = &tasks["a"];
        assert_eq!((a.running_on.as_deref(), a.restarts), (Some("node2"), 1));
        let b = &tasks["b"];
        assert_eq!((b.running_on.as_deref(), b.restarts), (None, 0));
        let c = &tasks["c"];
        assert_eq!((c.running_on.as_deref(), c.restarts), (Some("node1"), 0));
    }
}
