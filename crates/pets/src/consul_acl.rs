//! `pets consul-acl`: the one-shot job that gives a Consul cluster pets'
//! roles ([`pets_store::consul::acl`]), retrying while the cluster is still
//! electing a leader or setting up its ACLs, and saying what it did in a
//! line for each policy and token. Exit 0 once everything is in place, 2 for
//! a setting that cannot work, 1 when the wait ran out.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use pets_store::consul::acl::roles::Role;
use pets_store::consul::acl::{AclAdmin, AclError};
use secrecy::SecretString;

use crate::configuration::consul_acl::ConsulAclArgs;

/// How long between two tries while Consul is not ready.
const RETRY_EVERY: Duration = Duration::from_secs(2);

pub async fn run(args: ConsulAclArgs) -> ExitCode {
    let admin = match args.cluster().map(|s| AclAdmin::new(&s)) {
        Ok(Ok(admin)) => admin,
        Ok(Err(e)) => {
            eprintln!("pets consul-acl: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("pets consul-acl: {e}");
            return ExitCode::from(2);
        }
    };
    let tokens: Vec<(Role, SecretString)> = [
        (Role::Web, &args.web_token_file),
        (Role::Load, &args.load_token_file),
        (Role::Agent, &args.agent_token_file),
    ]
    .into_iter()
    .filter_map(|(role, file)| file.as_ref().map(|f| (role, f.secret.clone())))
    .collect();
    let started = Instant::now();
    let mut last_error = String::new();
    loop {
        match apply(&admin, &tokens).await {
            Ok(lines) => {
                for line in lines {
                    println!("pets consul-acl: {line}");
                }
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                let error = format!("{e}");
                if error != last_error {
                    eprintln!("pets consul-acl: not yet: {error}");
                    last_error = error;
                }
            }
        }
        if started.elapsed() >= args.wait {
            eprintln!(
                "pets consul-acl: gave up after {} s: {last_error}",
                args.wait.as_secs()
            );
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// Every role's policy, then each token given; what each did, in words.
async fn apply(admin: &AclAdmin, tokens: &[(Role, SecretString)]) -> Result<Vec<String>, AclError> {
    admin.check_management().await?;
    let mut lines = Vec::new();
    for role in Role::ALL {
        let applied = admin.apply_policy(role).await?;
        lines.push(format!(
            "the {} policy ({}): {applied}",
            role.name(),
            admin.policy_name(role)
        ));
    }
    for (role, secret) in tokens {
        let applied = admin.apply_token(*role, secret).await?;
        lines.push(format!("the {} token: {applied}", role.name()));
    }
    Ok(lines)
}
