//! `yui audiences` and `yui withdraw`: restricted audiences as the
//! operator sees them, and withdrawal of personal data.

use clap::Args;
use yui_node::home::Home;

use super::{print_json, publish_body};
use yui_node::client::AdminClient;

/// `yui withdraw`.
#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// Object ids (as `yui query` shows them).
    #[arg(required = true)]
    objects: Vec<String>,
    /// Why (kept in the log; no personal data).
    #[arg(long)]
    reason: Option<String>,
    /// Language of the reason.
    #[arg(long, default_value = "ja")]
    lang: String,
}

/// Every author's current audience epochs this node holds, with members.
pub async fn list(home: &Home, json: bool) -> anyhow::Result<()> {
    let c = AdminClient::for_home(home)?;
    let list: Vec<yui_read::restricted::AudienceView> = c.get("/v1/audiences").await?;
    if json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("no audiences yet (the first restricted publication starts one)");
    }
    for a in &list {
        let who = a.author_name.clone().unwrap_or_else(|| a.author.short());
        let members: Vec<String> = a
            .members
            .iter()
            .map(|(id, n)| n.clone().unwrap_or_else(|| id.short()))
            .collect();
        let here = if a.member_here {
            " (this node among them)"
        } else {
            ""
        };
        println!(
            "{who}  {}  epoch {}  {} members{here}: {}",
            a.name,
            a.epoch,
            members.len(),
            members.join(", ")
        );
    }
    Ok(())
}

/// Publishes a withdrawal of the objects' restricted parts.
pub async fn withdraw(home: &Home, a: WithdrawArgs) -> anyhow::Result<()> {
    let body = yui_core::Body::Withdrawal(yui_core::audience::Withdrawal {
        objects: a.objects,
        reason: a
            .reason
            .map(|r| yui_core::LocalizedText::one(&a.lang, &r))
            .unwrap_or_default(),
    });
    publish_body(home, body, None, None, Default::default()).await
}
