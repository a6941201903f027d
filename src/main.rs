//! The `dlspec` command; everything happens in the library.

fn main() -> std::process::ExitCode {
    dlspec::cli::run(std::env::args_os())
}
