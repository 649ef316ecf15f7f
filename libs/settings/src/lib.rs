//! Configuration every service reads the same way.
//!
//! Each setting is an environment variable (listed in README.md, "Configuration") read once,
//! in `main`, through clap. A bad or missing value stops the process at start with **one
//! line naming the variable**: [`parse`] folds clap's multi-line report into that line, and
//! the checks clap cannot express (a secret that is too short, say) return a [`ConfigError`]
//! that `main` hands to [`exit_code`]. Nothing here exits the process itself.

use std::{fmt, net::SocketAddr, process::ExitCode};

use clap::{Parser, error::ErrorKind};

mod args;
mod values;

pub use args::{
    DbArgs, HttpArgs, LegacyMoneyArgs, LegacySourceArgs, LogArgs, NatsArgs, parse_won_per_unit,
};
pub use values::{Cidrs, List, Secret, parse_bytes, parse_cidrs, parse_duration, parse_list};

/// A setting the process cannot start with, as the one line that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `Ok` when `ok`, else the configuration error `message`.
pub fn require(ok: bool, message: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(message))
    }
}

/// Parses the command line and environment. `Err` carries the exit code once what there was
/// to say is printed: help or version (0), or the one line naming what is wrong (2).
///
/// With no arguments at all the `serve` subcommand is assumed, so a container's entrypoint
/// can be the bare binary.
pub fn parse<T: Parser>() -> Result<T, ExitCode> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 1 {
        args.push("serve".into());
    }
    match T::try_parse_from(args) {
        Ok(parsed) => Ok(parsed),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let line = one_line(&e.render().to_string());
            let name = T::command().get_name().to_owned();
            Err(exit_code(&name, Err(ConfigError::new(line).into())))
        }
    }
}

/// Folds a multi-line clap report into one line, dropping the usage and help hints.
fn one_line(report: &str) -> String {
    report
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.trim_start_matches("error: "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a process ends, for `main` to return: success; a [`ConfigError`] anywhere in the
/// chain as `<bin>: configuration error: <line>` and code 2; anything else as
/// `<bin>: <error and its causes>` and code 1. Both on one line on standard error.
pub fn exit_code(bin: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config) => {
                eprintln!("{bin}: configuration error: {config}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("{bin}: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Binds a listener, or names the variable that gave the address.
pub async fn bind(addr: SocketAddr, var: &str) -> Result<tokio::net::TcpListener, ConfigError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ConfigError::new(format!("{var}={addr} cannot be bound: {e}")))
}

/// `Ok` if `url` (the value of `var`) is an http:// or https:// URL.
pub fn require_http_url(var: &str, url: &str) -> Result<(), ConfigError> {
    require(
        url.starts_with("http://") || url.starts_with("https://"),
        &format!("{var} must be an http:// or https:// URL"),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_read_like_the_design_says() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn sizes_and_cidrs_parse() {
        assert_eq!(parse_bytes("64KiB").unwrap(), 65536);
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        let c = parse_cidrs("10.0.0.0/8, 127.0.0.1").unwrap();
        assert!(c.contains(&"10.1.2.3".parse().unwrap()));
        assert!(c.contains(&"127.0.0.1".parse().unwrap()));
        assert!(!c.contains(&"192.168.0.1".parse().unwrap()));
        assert!(parse_cidrs("nonsense").is_err());
    }

    #[test]
    fn clap_reports_fold_into_one_line_naming_the_variable() {
        #[derive(Parser, Debug)]
        struct T {
            #[command(flatten)]
            http: HttpArgs,
        }
        let err = T::try_parse_from(["t", "--http-addr", "nope"]).unwrap_err();
        let line = one_line(&err.render().to_string());
        assert!(!line.contains('\n'));
        assert!(line.contains("HTTP_ADDR"), "{line}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever an operator writes, the parsers answer Ok or a message; never a panic
            /// (a panic at start is not the one-line error the process promises).
            #[test]
            fn config_parsers_never_panic(s in "\\PC{0,40}") {
                let _ = parse_duration(&s);
                let _ = parse_bytes(&s);
                let _ = parse_cidrs(&s);
                let _ = parse_list(&s);
            }

            #[test]
            fn huge_numbers_are_errors_not_overflows(n in any::<u64>(), unit in "(ms|s|m|h|d|)") {
                let text = format!("{n}{unit}");
                let mult: u64 = match unit.as_str() { "m" => 60, "h" => 3600, "d" => 86_400, _ => 1 };
                match parse_duration(&text) {
                    Ok(d) if unit == "ms" => prop_assert_eq!(d, Duration::from_millis(n)),
                    Ok(d) => prop_assert_eq!(Some(d.as_secs()), n.checked_mul(mult)),
                    Err(_) => prop_assert!(n.checked_mul(mult).is_none()),
                }
                let _ = parse_bytes(&format!("{n}MiB"));
            }
        }
    }
}
