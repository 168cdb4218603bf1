//! The `yui` binary: parses the command line and hands over to [`cli`].
#![forbid(unsafe_code)]

use clap::Parser;

mod cli;

/// The allocator: jemalloc. Against glibc's malloc, measured with `yui
/// bench node` (1,000,000 entries): the first index build 24.7 s against
/// 37.7 s at about the same peak memory, a full sync served 21 s against
/// 27 s (ARCHITECTURE.md, `crates/yui`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit code for bad usage or configuration (sysexits EX_USAGE).
const EX_USAGE: i32 = 64;

/// Exit code of a process whose reader went away (128 + SIGPIPE).
const EX_PIPE: i32 = 141;

fn main() {
    // `yui query … | head`: Rust ignores SIGPIPE (the node needs that for
    // its sockets), so printing to a closed pipe panics. Leave quietly, as
    // command-line tools do.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(EX_PIPE);
        }
        default_hook(info);
    }));
    let cli = cli::Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(cli::run(cli)) {
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
