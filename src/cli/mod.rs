//! The command line: `dlspec compile`, `check`, `list`, `compat`, `explain`, `init`, `lock`,
//! `completions`. Exit codes: 0 success, 1 the specs have errors (or `--check` found stale output),
//! 2 usage or I/O failure. With `--format json` every command prints one JSON document on stdout
//! (the shapes are in docs/spec-reference.md, "JSON output").
//!
//! `args` holds clap's types, `output` what every command prints (diagnostics, counts, the JSON
//! document); each command is a module of its own, which runs the library and reports.

mod args;
mod check;
pub mod compat;
mod compile;
mod explain;
mod init;
mod list;
mod lock;
mod output;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::FromArgMatches as _;

use self::args::{Cli, Command};
use self::output::print_error;

/// Runs the command line and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::command_with_tables().try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let (name, format) = cli.command.name_and_format();
    let result = match cli.command {
        Command::Compile(args) => compile::run(&args),
        Command::Check(args) => check::run(&args),
        Command::List(args) => list::run(&args),
        Command::Compat(args) => compat::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Completions(args) => {
            let mut command = Cli::command_with_tables();
            clap_complete::generate(args.shell, &mut command, "dlspec", &mut std::io::stdout().lock());
            Ok(0)
        }
        Command::Lock(args) => lock::run(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            print_error(name, format, &e);
            ExitCode::from(2)
        }
    }
}
