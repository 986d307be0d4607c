//! `--config ledger.toml` (or `LEDGER_CONFIG`): every serving flag's
//! setting in a file, under the flag's long name (`bind = "..."`,
//! `group-commit-max = 8`; `_` may stand for `-`). Flags and environment
//! variables override the file; an unknown key is an error naming it.
//!
//! The file is read into extra arguments placed before the command line's
//! own, for the settings neither the command line nor the environment gave,
//! and the command line is parsed again: so a setting from the file goes
//! through exactly the validation its flag does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// The flag naming the file, skipped inside it.
const CONFIG_ARG: &str = "config";

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The command line itself (clap prints it and exits).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML, or a value has no flag form.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// Parses the command line `args` (program name first), with the config
/// file it names, if any, underneath.
pub fn parse(args: Vec<OsString>) -> Result<Cli, ConfigFileError> {
    Ok(Cli::from_arg_matches(&parse_matches(args)?)?)
}

/// [`parse`], as clap's matches (for `config print`, which shows them).
pub fn parse_matches(args: Vec<OsString>) -> Result<ArgMatches, ConfigFileError> {
    let first = Cli::command().try_get_matches_from(&args)?;
    let Some((serving, prefix_len)) = serving_matches(&first, &args) else { return Ok(first) };
    let Some(path) = serving.get_one::<PathBuf>(CONFIG_ARG).cloned() else { return Ok(first) };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read { path: path.clone(), source })?;
    let extra = file_args(&path, &text, serving)?;
    let mut merged: Vec<OsString> = args[..prefix_len].to_vec();
    merged.extend(extra);
    merged.extend(args[prefix_len..].iter().cloned());
    Ok(Cli::command().try_get_matches_from(&merged)?)
}

/// The matches of `config print`'s flags, if that is the command.
pub fn print_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    match matches.subcommand() {
        Some(("config", config)) => config.subcommand_matches("print"),
        _ => None,
    }
}

/// The matches holding the serving flags (top level, `serve`, or `config
/// print`) and how many leading arguments come before those flags.
fn serving_matches<'m>(matches: &'m ArgMatches, args: &[OsString]) -> Option<(&'m ArgMatches, usize)> {
    match matches.subcommand() {
        None => Some((matches, 1)),
        Some(("serve", serve)) => Some((serve, position_after(args, &["serve"])?)),
        Some(("config", config)) => match config.subcommand() {
            Some(("print", print)) => Some((print, position_after(args, &["config", "print"])?)),
            _ => None,
        },
        Some(_) => None,
    }
}

/// The index just past the words `path` (in order) in `args`.
fn position_after(args: &[OsString], path: &[&str]) -> Option<usize> {
    let mut at = 1;
    for word in path {
        at += args.get(at..)?.iter().position(|a| a == word)? + 1;
    }
    Some(at)
}

/// The file's settings as arguments, for the settings `given` did not get
/// from the command line or the environment.
fn file_args(path: &Path, text: &str, given: &ArgMatches) -> Result<Vec<OsString>, ConfigFileError> {
    let invalid = |message: String| ConfigFileError::Invalid { path: path.to_owned(), message };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| invalid(e.message().to_owned()))?;
    let command = crate::config::Config::command();
    let mut extra = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != CONFIG_ARG)
            .ok_or_else(|| invalid(format!("unknown key `{key}`")))?;
        let id = arg.get_id().as_str();
        let overridden = matches!(given.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        if overridden {
            continue;
        }
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(true) if !arg.get_action().takes_values() => {
                    extra.push(OsString::from(format!("--{long}")));
                    continue;
                }
                toml::Value::Boolean(false) if !arg.get_action().takes_values() => continue,
                toml::Value::Boolean(b) => b.to_string(),
                other => return Err(invalid(format!("`{key}` = {other}: use a string, an integer or a boolean"))),
            };
            extra.push(OsString::from(format!("--{long}={text}")));
        }
    }
    Ok(extra)
}

/// The effective serving configuration as TOML, with every secret (a flag
/// whose environment value is hidden) masked.
pub fn effective(matches: &ArgMatches) -> String {
    let command = crate::config::Config::command();
    let mut lines = Vec::new();
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
        if long == CONFIG_ARG || long == "help" || long == "version" {
            continue;
        }
        let Some(raw) = matches.get_raw(id) else {
            lines.push(format!("# {long} = (not set)"));
            continue;
        };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        let shown: Vec<String> = if arg.is_hide_env_values_set() {
            values.iter().map(|_| "\"********\"".to_owned()).collect()
        } else {
            values.iter().map(|v| toml::Value::String(without_password(v)).to_string()).collect()
        };
        match shown.as_slice() {
            [_] if !arg.get_action().takes_values() => lines.push(format!("{long} = {}", values[0] == "true")),
            [one] => lines.push(format!("{long} = {one}")),
            many => lines.push(format!("{long} = [{}]", many.join(", "))),
        }
    }
    lines.join("\n") + "\n"
}

/// A URL's password masked (`postgres://u:********@host/db`); other text
/// as it is.
fn without_password(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else { return value.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return value.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn with_file(text: &str, args: &[&str]) -> Result<Cli, ConfigFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.toml");
        std::fs::write(&path, text).unwrap();
        let mut all: Vec<OsString> = vec!["ledger-http".into()];
        all.extend(args.iter().map(|a| a.replace("FILE", &path.display().to_string()).into()));
        parse(all)
    }

    #[test]
    fn the_file_sets_what_flags_do_not_and_flags_win() {
        let file = "bind = \"127.0.0.1:9001\"\ngroup_commit_max = 8\ncookie-secure = true\nno-pg-notify = false\n";
        let cli = with_file(file, &["--config", "FILE"]).unwrap();
        assert_eq!(cli.serve.bind.port(), 9001);
        assert_eq!(cli.serve.group_commit_max, 8);
        assert!(cli.serve.cookie_secure);
        assert!(!cli.serve.no_pg_notify);
        let cli = with_file(file, &["--config", "FILE", "--bind", "127.0.0.1:9002"]).unwrap();
        assert_eq!(cli.serve.bind.port(), 9002, "the flag overrides the file");
        assert_eq!(cli.serve.group_commit_max, 8);
        let Some(crate::cli::Command::Serve(serve)) =
            with_file(file, &["serve", "--config", "FILE", "--group-commit-max", "2"]).unwrap().command
        else {
            panic!("serve")
        };
        assert_eq!((serve.bind.port(), serve.group_commit_max), (9001, 2));
    }

    #[test]
    fn unknown_keys_bad_values_and_bad_toml_are_refused_by_name() {
        let error = with_file("bind = \"127.0.0.1:1\"\nbindd = 3\n", &["--config", "FILE"]).unwrap_err();
        assert!(error.to_string().contains("unknown key `bindd`"), "{error}");
        let error = with_file("group-commit-max = 100000\n", &["--config", "FILE"]).unwrap_err();
        assert!(matches!(error, ConfigFileError::Clap(_)), "the flag's own validation applies: {error}");
        let error = with_file("group-commit-max = 1.5\n", &["--config", "FILE"]).unwrap_err();
        assert!(error.to_string().contains("group-commit-max"), "{error}");
        let error = with_file("bind = \n", &["--config", "FILE"]).unwrap_err();
        assert!(matches!(error, ConfigFileError::Invalid { .. }), "{error}");
        let missing = parse(vec!["ledger-http".into(), "--config".into(), "/nonexistent/ledger.toml".into()]);
        assert!(matches!(missing, Err(ConfigFileError::Read { .. })));
    }

    #[test]
    fn the_effective_configuration_masks_secrets() {
        let matches = crate::config::Config::command()
            .try_get_matches_from(["ledger-http", "--webhook-secret", "s3cret", "--bind", "127.0.0.1:7"])
            .unwrap();
        let shown = effective(&matches);
        assert!(shown.contains("bind = \"127.0.0.1:7\""), "{shown}");
        assert!(shown.contains("webhook-secret = \"********\""), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("cookie-secure = false"), "{shown}");
        assert_eq!(without_password("postgres://u:pw@db:5432/x"), "postgres://u:********@db:5432/x");
        assert_eq!(
            without_password("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:********@127.0.0.1:5672/%2f"
        );
        assert_eq!(without_password("sqlite:./ledger.db"), "sqlite:./ledger.db");
        assert_eq!(without_password("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        let parsed: toml::Table = shown.parse().unwrap();
        assert!(parsed.contains_key("group-commit-max"));
    }
}
