//! The `detsim` binary: the command line of the library, with detsim's own protocols.

fn main() -> std::process::ExitCode {
    detsim::main()
}
