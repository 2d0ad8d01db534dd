//! The `blueprint` command. Everything lives in the library; see `blueprint::cli`.

fn main() -> std::process::ExitCode {
    blueprint::cli::run()
}
