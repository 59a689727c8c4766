//! The roles pets' processes play against Consul, and the ACL policy each
//! gets: least privilege, written once here and applied by `pets consul-acl`
//! (and read by the tests, which prove each role can do no more).
//!
//! - **web** (`pets serve`): reads and writes its own `PETS_KV_PREFIX`, makes
//!   the sessions its fleet records and fold lock hang on, and reads the Raft
//!   configuration and autopilot health the console's cluster view shows.
//!   The leader and peer lists need no permission.
//! - **load** (`pets load`): writes its meter series under `<prefix>load/`
//!   and reads them back to forget silent drivers; nothing else.
//! - **agent** (Consul's servers themselves, as `acl.tokens.agent`): writes
//!   the nodes' own catalog entries and coordinates and reads services, as
//!   an agent must; no key, no session, no ACL.
//!
//! The operator's role is Consul's own management token (backups, recovery,
//! this bootstrap), which no pets process holds while it runs; the servers
//! keep it in their configuration only as `master`, never for their own work.

/// A role a pets process plays, with its own token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Web,
    Load,
    Agent,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Web, Role::Load, Role::Agent];

    /// The role's short name, as in the secrets' names.
    pub fn name(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Load => "load",
            Role::Agent => "agent",
        }
    }

    /// The policy's name for the keys under `prefix`: `pets-web` for the
    /// default `pets/`, `pets-web-<prefix>` for another, so several stacks
    /// can share one cluster.
    pub fn policy_name(self, prefix: &str) -> String {
        let base = format!("pets-{}", self.name());
        let tail: String = prefix
            .trim_end_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        if tail == "pets" {
            base
        } else {
            format!("{base}-{tail}")
        }
    }

    /// The token's description, which the console shows nowhere but an
    /// operator's `consul acl token list` does.
    pub fn description(self, prefix: &str) -> String {
        format!("pets {} under {prefix}", self.name())
    }

    /// The policy's rules (HCL) for the keys under `prefix`.
    pub fn rules(self, prefix: &str) -> String {
        match self {
            Role::Web => format!(
                "key_prefix \"{prefix}\" {{ policy = \"write\" }}\n\
                 session_prefix \"\" {{ policy = \"write\" }}\n\
                 operator = \"read\"\n"
            ),
            Role::Load => format!("key_prefix \"{prefix}load/\" {{ policy = \"write\" }}\n"),
            Role::Agent => "node_prefix \"\" { policy = \"write\" }\n\
                            service_prefix \"\" { policy = \"read\" }\n"
                .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_is_bounded_by_its_prefix() {
        let web = Role::Web.rules("pets/");
        assert!(web.contains("key_prefix \"pets/\" { policy = \"write\" }"));
        assert!(!web.contains("key_prefix \"\""), "never every key");
        assert_eq!(
            Role::Load.rules("pets/"),
            "key_prefix \"pets/load/\" { policy = \"write\" }\n"
        );
        let agent = Role::Agent.rules("pets/");
        assert!(agent.contains("node_prefix \"\" { policy = \"write\" }"));
        assert!(
            !agent.contains("key") && !agent.contains("session") && !agent.contains("acl"),
            "an agent reads no key and makes no session: {agent}"
        );
        assert_eq!(Role::Web.policy_name("pets/"), "pets-web");
        assert_eq!(Role::Agent.policy_name("pets/"), "pets-agent");
        assert_eq!(
            Role::Load.policy_name("team.a/pets/"),
            "pets-load-team-a-pets"
        );
    }
}
