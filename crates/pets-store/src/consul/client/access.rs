//! What Consul lets pets' token do, in words: whether the cluster runs with
//! ACLs at all, and if it does, which policies the token carries (its role)
//! or that Consul does not know it. Asked of `/v1/acl/token/self`, which any
//! token may read about itself; the answer's secret is never kept.
//!
//! The console shows [`Access::describe`], and every refusal names
//! [`Access::who`], so a permission problem reads as one ("Consul refused
//! pets' token (pets-web) for a write to pets/votes") and not as an outage.

use reqwest::StatusCode;
use serde::Deserialize;

/// What Consul said of pets' token, the last time it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Not asked yet, or no server answered.
    #[default]
    NotAsked,
    /// Consul runs without ACLs: anything that reaches it may do anything.
    Open,
    /// A token Consul knows, with its policies' names (its role).
    Token {
        description: String,
        policies: Vec<String>,
    },
    /// ACLs are on and Consul knows no such token (or pets sends none).
    NotFound { token_sent: bool },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenSelf {
    #[serde(default)]
    description: String,
    #[serde(default)]
    policies: Vec<PolicyLink>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyLink {
    name: String,
}

impl Access {
    /// Reads `/v1/acl/token/self`'s answer. `None` for an answer that says
    /// nothing about the token (a server error, say).
    pub fn from_answer(status: StatusCode, body: &[u8], token_sent: bool) -> Option<Self> {
        let text = String::from_utf8_lossy(body);
        if status.is_success() {
            let token: TokenSelf = serde_json::from_slice(body).ok()?;
            return Some(Self::Token {
                description: token.description,
                policies: token.policies.into_iter().map(|p| p.name).collect(),
            });
        }
        if text.contains("ACL support disabled") {
            return Some(Self::Open);
        }
        if status == StatusCode::FORBIDDEN && text.contains("ACL not found") {
            return Some(Self::NotFound { token_sent });
        }
        None
    }

    /// Who a refusal was addressed to, for its message.
    pub fn who(&self, token_sent: bool) -> String {
        match self {
            Self::Token { policies, .. } if !policies.is_empty() => {
                format!("pets' token ({})", policies.join(", "))
            }
            Self::Token { description, .. } if !description.is_empty() => {
                format!("pets' token ({description}, no policy)")
            }
            Self::NotFound { token_sent: true } => {
                "pets' token, which it does not know (the secret is wrong or the token was deleted)"
                    .to_owned()
            }
            _ if !token_sent => {
                "pets, which sends no token (CONSUL_HTTP_TOKEN_FILE unset)".to_owned()
            }
            _ => "pets' token".to_owned(),
        }
    }

    /// The console's line about access to Consul.
    pub fn describe(&self) -> Option<String> {
        Some(match self {
            Self::NotAsked => return None,
            Self::Open => "open: Consul runs without ACLs, so anything on its network can read \
                           and change every key (the dev stack, for a laptop; production runs \
                           with ACLs)"
                .to_owned(),
            Self::Token { policies, .. } if !policies.is_empty() => {
                format!("ACLs on; pets' token has {}", policies.join(", "))
            }
            Self::Token { .. } => "ACLs on; pets' token has no policy".to_owned(),
            Self::NotFound { token_sent: true } => {
                "ACLs on, and Consul does not know pets' token: the secret in \
                 CONSUL_HTTP_TOKEN_FILE is wrong or the token was deleted"
                    .to_owned()
            }
            Self::NotFound { token_sent: false } => {
                "ACLs on, and pets sends no token: set CONSUL_HTTP_TOKEN_FILE".to_owned()
            }
        })
    }
}

/// Whether Consul's answer is an ACL refusal (a 403, or a transaction
/// operation it would not run).
pub fn is_acl_refusal(what: &str) -> bool {
    what.contains("Permission denied") || what.contains("ACL not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_consul_says_of_a_token() {
        let known = br#"{"AccessorID":"a","SecretID":"s3cr3t","Description":"web",
            "Policies":[{"ID":"1","Name":"pets-web"}]}"#;
        let access = Access::from_answer(StatusCode::OK, known, true).unwrap();
        assert_eq!(access.who(true), "pets' token (pets-web)");
        assert!(
            !format!("{access:?}").contains("s3cr3t"),
            "the secret is not kept"
        );
        assert_eq!(
            access.describe().unwrap(),
            "ACLs on; pets' token has pets-web"
        );

        let open = Access::from_answer(StatusCode::UNAUTHORIZED, b"ACL support disabled", false);
        assert_eq!(open, Some(Access::Open));
        assert!(open.unwrap().describe().unwrap().starts_with("open"));

        let unknown = Access::from_answer(StatusCode::FORBIDDEN, b"ACL not found", true).unwrap();
        assert!(unknown.who(true).contains("does not know"));
        assert!(unknown
            .describe()
            .unwrap()
            .contains("CONSUL_HTTP_TOKEN_FILE is wrong"));
        let none = Access::from_answer(StatusCode::FORBIDDEN, b"ACL not found", false).unwrap();
        assert!(none.who(false).contains("sends no token"));

        assert_eq!(
            Access::from_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                b"No cluster leader",
                true
            ),
            None
        );
        assert_eq!(Access::NotAsked.describe(), None);
    }

    #[test]
    fn tells_acl_refusals_from_other_answers() {
        assert!(is_acl_refusal("Permission denied"));
        assert!(is_acl_refusal("ACL not found"));
        assert!(!is_acl_refusal("failed index check for key \"pets/votes\""));
    }
}
