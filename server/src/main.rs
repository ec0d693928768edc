//! The `imlink` binary. See `imlink --help`.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
