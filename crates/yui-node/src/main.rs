//! The `yui` binary: parses the command line and hands over to
//! `yui_node::cli`.
#![forbid(unsafe_code)]

use clap::Parser;

/// Exit code for bad usage or configuration (sysexits EX_USAGE).
const EX_USAGE: i32 = 64;

fn main() {
    let cli = yui_node::cli::Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(yui_node::cli::run(cli)) {
        eprintln!("yui: {e:#}");
        let usage = e.chain().any(|c| {
            c.downcast_ref::<yui_node::home::HomeError>().is_some()
                || matches!(
                    c.downcast_ref::<yui_node::node::StartError>(),
                    Some(yui_node::node::StartError::Home(_))
                )
        });
        std::process::exit(if usage { EX_USAGE } else { 1 });
    }
}
