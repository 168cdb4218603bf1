//! `yui aid …` (mutual-aid threads), `yui reply`, `yui receipt verify`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use yui_core::content::{AidLine, AidMessage, AidResource, AidStep, ObjectRef, Reply};
use yui_core::{Body, LocalizedText};
use yui_node::api::{PublishRequest, Published};
use yui_node::client::AdminClient;
use yui_node::home::Home;
use yui_read::aid::{Reason, Suggestion, Thread};
use yui_read::EntryView;

/// What is asked for or offered, as flags.
#[derive(Debug, Args, Default)]
pub struct Lines {
    /// Supplies: `WHAT:QUANTITY[:UNIT]` (`毛布:500:枚`). Repeat.
    #[arg(long = "supply")]
    supply: Vec<String>,
    /// Staff: `職種:COUNT[:DAYS]` (`保健師:2:7`). Repeat.
    #[arg(long = "staff")]
    staff: Vec<String>,
    /// Money: `PURPOSE:AMOUNT[:UNIT]` (`見舞金:1000000:JPY`). Repeat.
    #[arg(long = "money")]
    money: Vec<String>,
    /// Places for evacuees: `WHAT:PLACES` (`避難者受入:50`). Repeat.
    #[arg(long = "shelter")]
    shelter: Vec<String>,
    /// Language of the texts (BCP 47).
    #[arg(long, default_value = "ja")]
    lang: String,
}

/// Options every step shares.
#[derive(Debug, Args)]
pub struct StepOpts {
    /// Remarks (for a decline or cancel: the reason).
    #[arg(long, alias = "reason")]
    note: Option<String>,
    /// Estimated arrival (RFC 3339).
    #[arg(long)]
    eta: Option<String>,
    /// A drill (訓練).
    #[arg(long)]
    exercise: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// `yui aid …`.
#[derive(Debug, Subcommand)]
pub enum AidCmd {
    /// Ask named municipalities (or every mutual-aid partner) for help.
    Request {
        /// Municipality codes to ask (repeat).
        #[arg(long = "to")]
        to: Vec<String>,
        /// Ask every municipality with a mutual-aid agreement.
        #[arg(long)]
        to_partners: bool,
        #[command(flatten)]
        lines: Lines,
        /// Needed by (RFC 3339).
        #[arg(long)]
        needed_by: Option<String>,
        /// Where to deliver or report.
        #[arg(long)]
        deliver_to: Option<String>,
        #[command(flatten)]
        opts: StepOpts,
    },
    /// Answer a request addressed to this municipality: an offer (lines),
    /// or `--decline` with `--reason`.
    Respond {
        /// The request: `<author>/<object id>`.
        request: ObjectRef,
        /// Decline instead of offering.
        #[arg(long)]
        decline: bool,
        #[command(flatten)]
        lines: Lines,
        #[command(flatten)]
        opts: StepOpts,
    },
    /// Offer help nobody asked for (to named municipalities, or to all).
    Offer {
        /// Municipality codes offered to (repeat).
        #[arg(long = "to")]
        to: Vec<String>,
        #[command(flatten)]
        lines: Lines,
        #[command(flatten)]
        opts: StepOpts,
    },
    /// The requester accepts an offer (all of it, or the lines given).
    Accept(OfferStep),
    /// The responder commits what was accepted.
    Commit(OfferStep),
    /// The responder reports it dispatched.
    Dispatch(OfferStep),
    /// The requester reports it arrived.
    Arrive(OfferStep),
    /// The requester releases (staff go home, lent things go back).
    Release(OfferStep),
    /// Withdraw this municipality's request or offer.
    Cancel {
        /// The request or offer: `<author>/<object id>`.
        object: ObjectRef,
        #[command(flatten)]
        opts: StepOpts,
    },
    /// One thread: each municipality's row and the totals.
    Show {
        /// The request: `<author>/<object id>`.
        request: ObjectRef,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Requests addressed to this municipality.
    Inbox {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Whom to ask for these lines, and why.
    Suggest {
        #[command(flatten)]
        lines: Lines,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write the signed receipt of one offer (JSON) for settling costs.
    Receipt {
        /// The offer: `<author>/<object id>`.
        offer: ObjectRef,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// A step about one offer.
#[derive(Debug, Args)]
pub struct OfferStep {
    /// The offer: `<author>/<object id>`.
    offer: ObjectRef,
    #[command(flatten)]
    lines: Lines,
    #[command(flatten)]
    opts: StepOpts,
}

/// `yui receipt …`.
#[derive(Debug, Subcommand)]
pub enum ReceiptCmd {
    /// Check a receipt on its own: every signature, id and step, and the
    /// quantities it states. Exits 1 when it does not hold.
    Verify {
        /// The receipt file.
        file: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `yui reply`.
#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// The object answered: `<author>/<object id>`.
    about: ObjectRef,
    /// What to say.
    #[arg(long)]
    text: String,
    /// The reply this answers.
    #[arg(long)]
    in_reply_to: Option<ObjectRef>,
    /// Language of the text.
    #[arg(long, default_value = "ja")]
    lang: String,
    /// Said in a drill.
    #[arg(long)]
    exercise: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn parse_line(resource: AidResource, spec: &str, lang: &str) -> anyhow::Result<AidLine> {
    let bad =
        || anyhow::anyhow!("{spec:?}: expected WHAT:QUANTITY[:UNIT] (staff: WHAT:COUNT[:DAYS])");
    let (head, last) = spec.rsplit_once(':').ok_or_else(bad)?;
    // `WHAT:Q:X` when the middle part is the number, else `WHAT:Q`.
    let (what, quantity, extra) = match head.rsplit_once(':') {
        Some((w, q)) if q.trim().parse::<f64>().is_ok() => (w, q, Some(last)),
        _ => (head, last, None),
    };
    let quantity: f64 = quantity
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{spec:?}: {quantity:?} is not a number"))?;
    if what.trim().is_empty() {
        return Err(bad());
    }
    let mut line = AidLine {
        resource,
        what: LocalizedText::one(lang, what.trim()),
        quantity,
        ..Default::default()
    };
    match resource {
        AidResource::Staff => {
            line.unit = "人".into();
            if let Some(d) = extra {
                line.days = d
                    .trim()
                    .parse()
                    .with_context(|| format!("{spec:?}: days {d:?} is not a whole number"))?;
            }
        }
        AidResource::Shelter => line.unit = extra.unwrap_or("人").trim().into(),
        _ => line.unit = extra.unwrap_or_default().trim().into(),
    }
    Ok(line)
}

impl Lines {
    fn build(&self) -> anyhow::Result<Vec<AidLine>> {
        let mut out = Vec::new();
        for (resource, specs) in [
            (AidResource::Supply, &self.supply),
            (AidResource::Staff, &self.staff),
            (AidResource::Money, &self.money),
            (AidResource::Shelter, &self.shelter),
        ] {
            for s in specs {
                out.push(parse_line(resource, s, &self.lang)?);
            }
        }
        Ok(out)
    }
}

fn time(flag: &str, s: &Option<String>) -> anyhow::Result<i64> {
    match s {
        None => Ok(0),
        Some(s) => Ok(chrono::DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("--{flag}: {s:?} is not RFC 3339 (2027-02-10T10:00:00+09:00)")
            })?
            .timestamp_millis()),
    }
}

fn text(lang: &str, t: &Option<String>) -> LocalizedText {
    t.as_deref()
        .map(|t| LocalizedText::one(lang, t))
        .unwrap_or_default()
}

async fn publish(c: &AdminClient, body: Body, json: bool) -> anyhow::Result<()> {
    let r: Published = c
        .post(
            "/v1/publish",
            &PublishRequest {
                object_id: None,
                expires_at: None,
                body,
                contact_audience: None,
                shelter_audience: None,
            },
        )
        .await?;
    if json {
        super::print_json(&r)?;
    } else {
        println!("{}", r.id);
        eprintln!("published {} as seq {}", r.object_id, r.seq);
    }
    Ok(())
}

/// The request an offer answers, from the offer as this node holds it.
async fn request_of(c: &AdminClient, offer: &ObjectRef) -> anyhow::Result<Option<ObjectRef>> {
    let versions: Vec<EntryView> = c
        .get(&format!(
            "/v1/history?author={}&object_id={}",
            offer.author,
            super::encode(&offer.object_id)
        ))
        .await
        .with_context(|| format!("this node holds no offer {offer}"))?;
    match versions.last().map(|v| &v.body) {
        Some(Body::Aid(a)) if a.step == AidStep::Offer => Ok(a.request.clone()),
        Some(_) => bail!("{offer} is not an offer"),
        None => bail!("this node holds no offer {offer}"),
    }
}

fn amount(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        format!("{q}")
    }
}

fn print_thread(t: &Thread) {
    let Some(o) = &t.opening else {
        println!("(this node holds no request {})", t.root);
        return;
    };
    let who = o.author_name.clone().unwrap_or_else(|| o.author.short());
    println!(
        "request {} by {who}{}",
        t.root,
        if t.cancelled { " (cancelled)" } else { "" }
    );
    for (i, l) in t.lines.iter().enumerate() {
        let a = &l.amounts;
        println!(
            "  {}. {} {}{}  offered {}  accepted {}  committed {}  dispatched {}  arrived {}",
            i + 1,
            l.line.what.get("ja").unwrap_or_default(),
            amount(l.line.quantity),
            l.line.unit,
            amount(a.offered),
            amount(a.accepted),
            amount(a.committed),
            amount(a.dispatched),
            amount(a.arrived)
        );
    }
    for r in &t.rows {
        let name = r.name.clone().unwrap_or_else(|| r.code.clone());
        let state = match (&r.declined, r.stage, r.cancelled) {
            (_, _, true) => "withdrew its offer".to_owned(),
            (Some(reason), _, _) => format!("declined: {}", reason.get("ja").unwrap_or_default()),
            (None, Some(s), _) => s.name().to_owned(),
            (None, None, _) if r.read_at.is_some() => "read".to_owned(),
            (None, None, _) if r.received_at.is_some() => "received".to_owned(),
            _ => "not yet received".to_owned(),
        };
        let offer = r
            .offer
            .as_ref()
            .map(|o| format!("  offer {o}"))
            .unwrap_or_default();
        println!("  - {name}: {state}{offer}");
    }
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::MutualAid => "mutual-aid agreement (災害時相互応援協定)".into(),
        Reason::Offers {
            what,
            quantity,
            unit,
        } => format!("offers {what} {}{unit}", amount(*quantity)),
        Reason::OtherPrefecture => "another prefecture".into(),
        Reason::UnderAlert { level } => format!("under alert level {level} itself"),
    }
}

/// Runs `yui aid …`.
pub async fn run(home: &Home, cmd: AidCmd) -> anyhow::Result<()> {
    let c = AdminClient::for_home(home)?;
    let step =
        |s: AidStep, o: &StepOpts, lines: Vec<AidLine>, lang: &str| -> anyhow::Result<AidMessage> {
            Ok(AidMessage {
                step: s,
                lines,
                eta: time("eta", &o.eta)?,
                note: text(lang, &o.note),
                exercise: o.exercise,
                ..Default::default()
            })
        };
    match cmd {
        AidCmd::Request {
            to,
            to_partners,
            lines,
            needed_by,
            deliver_to,
            opts,
        } => {
            let mut a = step(AidStep::Request, &opts, lines.build()?, &lines.lang)?;
            a.to = to;
            a.to_partners = to_partners;
            a.needed_by = time("needed-by", &needed_by)?;
            a.deliver_to = text(&lines.lang, &deliver_to);
            publish(&c, Body::Aid(a), opts.json).await
        }
        AidCmd::Respond {
            request,
            decline,
            lines,
            opts,
        } => {
            let s = if decline {
                AidStep::Decline
            } else {
                AidStep::Offer
            };
            let mut a = step(s, &opts, lines.build()?, &lines.lang)?;
            a.request = Some(request);
            publish(&c, Body::Aid(a), opts.json).await
        }
        AidCmd::Offer { to, lines, opts } => {
            let mut a = step(AidStep::Offer, &opts, lines.build()?, &lines.lang)?;
            a.to = to;
            publish(&c, Body::Aid(a), opts.json).await
        }
        AidCmd::Accept(s) => offer_step(&c, AidStep::Accept, s, &step).await,
        AidCmd::Commit(s) => offer_step(&c, AidStep::Commit, s, &step).await,
        AidCmd::Dispatch(s) => offer_step(&c, AidStep::Dispatch, s, &step).await,
        AidCmd::Arrive(s) => offer_step(&c, AidStep::Arrive, s, &step).await,
        AidCmd::Release(s) => offer_step(&c, AidStep::Release, s, &step).await,
        AidCmd::Cancel { object, opts } => {
            let versions: Vec<EntryView> = c
                .get(&format!(
                    "/v1/history?author={}&object_id={}",
                    object.author,
                    super::encode(&object.object_id)
                ))
                .await?;
            let mut a = step(AidStep::Cancel, &opts, Vec::new(), "ja")?;
            match versions.last().map(|v| &v.body) {
                Some(Body::Aid(x)) if x.step == AidStep::Request => a.request = Some(object),
                Some(Body::Aid(x)) if x.step == AidStep::Offer => {
                    a.request = x.request.clone();
                    a.offer = Some(object);
                }
                _ => bail!("{object} is not a request or an offer this node holds"),
            }
            publish(&c, Body::Aid(a), opts.json).await
        }
        AidCmd::Show { request, json } => {
            let t: Thread = c
                .get(&format!(
                    "/v1/aid/thread?root={}",
                    super::encode(&request.to_string())
                ))
                .await?;
            if json {
                super::print_json(&t)
            } else {
                print_thread(&t);
                Ok(())
            }
        }
        AidCmd::Inbox { json } => {
            let inbox: Vec<EntryView> = c.get("/v1/aid/inbox").await?;
            if json {
                return super::print_json(&inbox);
            }
            if inbox.is_empty() {
                println!("no requests addressed to this municipality");
            }
            for e in &inbox {
                let Body::Aid(a) = &e.body else { continue };
                let what: Vec<String> = a
                    .lines
                    .iter()
                    .map(|l| {
                        format!(
                            "{} {}{}",
                            l.what.get("ja").unwrap_or_default(),
                            amount(l.quantity),
                            l.unit
                        )
                    })
                    .collect();
                println!(
                    "{}/{}  {}  {}",
                    e.author,
                    e.object_id,
                    e.author_name.clone().unwrap_or_else(|| e.author.short()),
                    what.join(", ")
                );
            }
            Ok(())
        }
        AidCmd::Suggest { lines, json } => {
            let out: Vec<Suggestion> = c
                .post(
                    "/v1/aid/suggest",
                    &serde_json::json!({ "lines": lines.build()? }),
                )
                .await?;
            if json {
                return super::print_json(&out);
            }
            for s in &out {
                let reasons: Vec<String> = s.reasons.iter().map(reason).collect();
                println!(
                    "{}{} {}: {}",
                    if s.excluded { "(not suggested) " } else { "" },
                    s.name.clone().unwrap_or_default(),
                    s.code,
                    reasons.join("; ")
                );
            }
            Ok(())
        }
        AidCmd::Receipt { offer, out } => {
            let root = request_of(&c, &offer)
                .await?
                .unwrap_or_else(|| offer.clone());
            let r: yui_read::receipt::Receipt = c
                .get(&format!(
                    "/v1/aid/receipt?root={}&offer={}",
                    super::encode(&root.to_string()),
                    super::encode(&offer.to_string())
                ))
                .await?;
            let text = serde_json::to_string_pretty(&r)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("receipt of {offer} written to {}", path.display());
                }
                None => println!("{text}"),
            }
            Ok(())
        }
    }
}

async fn offer_step(
    c: &AdminClient,
    s: AidStep,
    a: OfferStep,
    step: &impl Fn(AidStep, &StepOpts, Vec<AidLine>, &str) -> anyhow::Result<AidMessage>,
) -> anyhow::Result<()> {
    let mut m = step(s, &a.opts, a.lines.build()?, &a.lines.lang)?;
    m.request = request_of(c, &a.offer).await?;
    m.offer = Some(a.offer);
    publish(c, Body::Aid(m), a.opts.json).await
}

/// Runs `yui reply`.
pub async fn reply(home: &Home, a: ReplyArgs) -> anyhow::Result<()> {
    let c = AdminClient::for_home(home)?;
    let body = Body::Reply(Reply {
        about: a.about,
        in_reply_to: a.in_reply_to,
        text: LocalizedText::one(&a.lang, &a.text),
        exercise: a.exercise,
    });
    publish(&c, body, a.json).await
}

/// Runs `yui receipt …` (no node needed).
pub fn receipt(cmd: ReceiptCmd) -> anyhow::Result<()> {
    let ReceiptCmd::Verify { file, json } = cmd;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let r: yui_read::receipt::Receipt = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a yui receipt", file.display()))?;
    match yui_read::receipt::verify(&r, &yui_net::ProtoCodec) {
        Ok(v) => {
            if json {
                super::print_json(&v)?;
            } else {
                println!(
                    "receipt holds: {} signed entries, {} → {}, furthest step {}",
                    v.entries,
                    r.requester,
                    r.responder,
                    v.stage.map(|s| s.name()).unwrap_or("none")
                );
                for l in &v.lines {
                    let a = &l.amounts;
                    println!(
                        "  {}: offered {} accepted {} committed {} dispatched {} arrived {} {}",
                        l.what,
                        amount(a.offered),
                        amount(a.accepted),
                        amount(a.committed),
                        amount(a.dispatched),
                        amount(a.arrived),
                        l.unit
                    );
                }
            }
            Ok(())
        }
        Err(e) => bail!("the receipt does not hold: {e}"),
    }
}
