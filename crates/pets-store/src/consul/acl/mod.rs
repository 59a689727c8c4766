//! Consul's ACLs for pets: the roles and their policies ([`roles`]), and
//! [`AclAdmin`], which makes them real in a cluster with the management
//! token: each role's policy created or brought up to date, and a token for
//! it whose secret the operator chose (a Swarm secret), created or pointed at
//! the policy again. Running it twice changes nothing; it never deletes a
//! token, so a rotation adds the new one first (docs/DEPLOYING.md).
//!
//! `pets consul-acl` runs it as a one-shot job at deploy. It talks to Consul
//! with its own client, not the store's: it sends a different token on
//! different calls, and none of the store's failover promises apply.

pub mod roles;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use self::roles::Role;
use crate::consul::settings::ConsulSettings;

/// Why the ACLs could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    #[error("no management token: set CONSUL_HTTP_TOKEN_FILE to the file that holds it")]
    NoManagementToken,
    #[error("cannot set up the HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("no Consul server answered: {0}")]
    Unreachable(String),
    #[error("Consul answered {what} with {status}: {text}")]
    Refused {
        what: String,
        status: StatusCode,
        text: String,
    },
    #[error("Consul's answer to {what} is unreadable: {cause}")]
    Unreadable { what: String, cause: String },
}

/// What applying one thing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Applied::Created => "created",
            Applied::Updated => "up to date",
        })
    }
}

/// Applies pets' roles to a cluster with the management token.
pub struct AclAdmin {
    http: reqwest::Client,
    endpoints: Vec<String>,
    management: SecretString,
    prefix: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Found {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "AccessorID", default)]
    accessor_id: String,
}

impl AclAdmin {
    /// An admin for the cluster `settings` names, acting with its token
    /// (which must be the management token) on its prefix's roles.
    pub fn new(settings: &ConsulSettings) -> Result<Self, AclError> {
        let management = settings.token.clone().ok_or(AclError::NoManagementToken)?;
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
        if let Some(pem) = &settings.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(AclError::Http)?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            http: builder.build().map_err(AclError::Http)?,
            endpoints: settings.targets.urls(),
            management,
            prefix: settings.prefix.clone(),
        })
    }

    /// Whether Consul knows the management token (it does not while the
    /// cluster is still setting up its ACLs, nor when the secret is wrong).
    pub async fn check_management(&self) -> Result<(), AclError> {
        let (status, answer) = self
            .call(Method::GET, "/v1/acl/token/self", &self.management, None)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(refused(
                "the management token's lookup".into(),
                status,
                &answer,
            ))
        }
    }

    /// The name of `role`'s policy for this prefix.
    pub fn policy_name(&self, role: Role) -> String {
        role.policy_name(&self.prefix)
    }

    /// `role`'s policy, created or its rules set again.
    pub async fn apply_policy(&self, role: Role) -> Result<Applied, AclError> {
        let name = role.policy_name(&self.prefix);
        let body = json!({
            "Name": name,
            "Description": format!("pets' {} role under {}", role.name(), self.prefix),
            "Rules": role.rules(&self.prefix),
        });
        let (status, answer) = self
            .call(
                Method::GET,
                &format!("/v1/acl/policy/name/{name}"),
                &self.management,
                None,
            )
            .await?;
        if status.is_success() {
            let found: Found = read(&answer, "the policy's lookup")?;
            let path = format!("/v1/acl/policy/{}", found.id);
            self.expect(Method::PUT, &path, &self.management, body)
                .await?;
            Ok(Applied::Updated)
        } else if status == StatusCode::FORBIDDEN && text(&answer).contains("ACL not found") {
            self.expect(Method::PUT, "/v1/acl/policy", &self.management, body)
                .await?;
            Ok(Applied::Created)
        } else {
            Err(refused(format!("GET the policy {name}"), status, &answer))
        }
    }

    /// A token with `secret` for `role`: created, or (when Consul knows it
    /// already) given the role's policy and description again.
    pub async fn apply_token(
        &self,
        role: Role,
        secret: &SecretString,
    ) -> Result<Applied, AclError> {
        let mut body = json!({
            "Description": role.description(&self.prefix),
            "Policies": [{ "Name": role.policy_name(&self.prefix) }],
        });
        let (status, answer) = self
            .call(Method::GET, "/v1/acl/token/self", secret, None)
            .await?;
        if status.is_success() {
            let found: Found = read(&answer, "the token's lookup")?;
            let path = format!("/v1/acl/token/{}", found.accessor_id);
            self.expect(Method::PUT, &path, &self.management, body)
                .await?;
            Ok(Applied::Updated)
        } else if status == StatusCode::FORBIDDEN && text(&answer).contains("ACL not found") {
            body["SecretID"] = json!(secret.expose_secret());
            self.expect(Method::PUT, "/v1/acl/token", &self.management, body)
                .await?;
            Ok(Applied::Created)
        } else {
            Err(refused(
                format!("the {} token's lookup", role.name()),
                status,
                &answer,
            ))
        }
    }

    async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
        body: serde_json::Value,
    ) -> Result<(), AclError> {
        let (status, answer) = self.call(method.clone(), path, token, Some(body)).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(refused(format!("{method} {path}"), status, &answer))
        }
    }

    /// One call, to the first server that answers.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &SecretString,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, Vec<u8>), AclError> {
        let mut last = String::from("no Consul endpoint");
        for endpoint in &self.endpoints {
            let mut request = self
                .http
                .request(method.clone(), format!("{endpoint}{path}"))
                .header("X-Consul-Token", token.expose_secret());
            if let Some(body) = &body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(bytes) => return Ok((status, bytes.to_vec())),
                        Err(e) => last = format!("{endpoint}: {e}"),
                    }
                }
                Err(e) => last = format!("{endpoint}: {e}"),
            }
        }
        Err(AclError::Unreachable(last))
    }
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim().to_owned()
}

fn refused(what: String, status: StatusCode, body: &[u8]) -> AclError {
    AclError::Refused {
        what,
        status,
        text: text(body),
    }
}

fn read<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, AclError> {
    serde_json::from_slice(body).map_err(|e| AclError::Unreadable {
        what: what.to_owned(),
        cause: e.to_string(),
    })
}
