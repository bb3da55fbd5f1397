//! `kiln-cli fn load|list|delete` and `kiln-cli fcall`: storage functions
//! from the command line; `kiln-cli help ...`: command help ([`help`]).
//!
//! These words are read only as the first word of a command (one-shot or at
//! the prompt), so `kiln-cli -p 7000 GET k` and every other command still go
//! to the server as they are. Tool errors go to stderr with exit code 1; a
//! load error that names a place in the library draws that line of the file
//! with a caret under the column ([`snippet`]). Replies of `fcall` print as
//! any command's do, error replies included.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use kiln_net::Reply;

use super::{OutputMode, describe, execute, format_reply, help, snippet};
use crate::{Client, Error, LibraryInfo};

/// The storage-function tools.
#[derive(Debug, Parser)]
#[command(name = "kiln-cli", disable_help_subcommand = true)]
pub enum Tool {
    /// Manage function libraries.
    #[command(subcommand)]
    Fn(FnCommand),
    /// Call a function (FCALL, or FCALL_RO with --ro), routed to the core
    /// owning its keys.
    Fcall(FcallArgs),
    /// Help on commands: `help @<group>`, `help <command>` ([`help`]).
    Help {
        /// `@group` or a command's name; none for how to ask.
        topic: Vec<String>,
    },
}

/// `kiln-cli fn ...`
#[derive(Debug, Subcommand)]
pub enum FnCommand {
    /// Load a library from a file (FUNCTION LOAD); prints its name.
    Load {
        /// The library's source (first line `#!js name=<library>`).
        file: PathBuf,
        /// Replace a loaded library of the same name.
        #[arg(long)]
        replace: bool,
    },
    /// List the loaded libraries and their functions (FUNCTION LIST).
    List {
        /// Print each library's source too.
        #[arg(long)]
        code: bool,
        /// Only libraries whose name matches this glob pattern.
        pattern: Option<String>,
    },
    /// Delete a library and its functions (FUNCTION DELETE).
    Delete {
        /// The library's name.
        library: String,
    },
}

/// `kiln-cli fcall [--ro] <function> <numkeys> [key...] [arg...]`
#[derive(Debug, Args)]
pub struct FcallArgs {
    /// Call with FCALL_RO (functions flagged no-writes); give it before the
    /// function's name: later words are the function's keys and arguments.
    #[arg(long)]
    pub ro: bool,
    /// The function's name.
    pub function: OsString,
    /// How many of the words after it are keys.
    pub numkeys: usize,
    /// The keys, then the arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<OsString>,
}

impl Tool {
    /// The tool a command line names (`fn ...`, `fcall ...`), `None` for
    /// anything else (a command for the server). `Err` is clap's usage
    /// error (or help) for a tool line it cannot parse.
    pub fn from_command(command: &[OsString]) -> Result<Option<Tool>, clap::Error> {
        match command.first().and_then(|w| w.to_str()) {
            // Any case, as redis-cli; the topic words as typed.
            Some(word) if word.eq_ignore_ascii_case("help") => Ok(Some(Tool::Help {
                topic: command[1..]
                    .iter()
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect(),
            })),
            Some("fn" | "fcall") => {
                let words =
                    std::iter::once(OsString::from("kiln-cli")).chain(command.iter().cloned());
                Tool::try_parse_from(words).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Runs a tool; returns the process exit code.
pub fn run(client: &mut Client, tool: Tool, mode: OutputMode) -> i32 {
    let result = match tool {
        Tool::Help { topic } => print(help::render(&topic).as_bytes()).map_err(|e| describe(&e)),
        Tool::Fcall(call) => fcall(client, call, mode).map_err(|e| describe(&e)),
        Tool::Fn(FnCommand::Load { file, replace }) => load(client, &file, replace, mode),
        Tool::Fn(FnCommand::List { code, pattern }) => {
            list(client, pattern.as_deref(), code).map_err(|e| describe(&e))
        }
        Tool::Fn(FnCommand::Delete { library }) => client
            .function_delete(&library)
            .and_then(|()| print(&format_reply(&Reply::OK, mode)))
            .map_err(|e| describe(&e)),
    };
    match result {
        Ok(()) => 0,
        Err(report) => {
            eprintln!("error: {}", report.trim_end());
            1
        }
    }
}

/// Sends the command as typed, so its reply prints like any command's.
fn fcall(client: &mut Client, call: FcallArgs, mode: OutputMode) -> Result<(), Error> {
    let name: &[u8] = if call.ro { b"FCALL_RO" } else { b"FCALL" };
    let mut command = vec![
        name.to_vec(),
        call.function.into_encoded_bytes(),
        call.numkeys.to_string().into_bytes(),
    ];
    command.extend(call.rest.into_iter().map(OsString::into_encoded_bytes));
    execute(client, &command, mode)
}

/// Loads `file`; on failure, the report: the error, and the line it points
/// at with a caret when it points somewhere.
fn load(client: &mut Client, file: &Path, replace: bool, mode: OutputMode) -> Result<(), String> {
    let path = file.display().to_string();
    let code = std::fs::read_to_string(file).map_err(|e| format!("cannot read {path}: {e}"))?;
    match client.function_load(&code, replace) {
        Ok(name) => {
            print(&format_reply(&Reply::Bulk(Bytes::from(name)), mode)).map_err(|e| describe(&e))
        }
        Err(e) => {
            let mut report = describe(&e);
            if let Error::Server { message, .. } = &e
                && let Some(located) = snippet::locate(message)
            {
                report.push('\n');
                report.push_str(&snippet::render(&code, &path, &located.location));
            }
            Err(report)
        }
    }
}

fn list(client: &mut Client, pattern: Option<&str>, with_code: bool) -> Result<(), Error> {
    let libraries = client.function_list(pattern, with_code)?;
    print(format_libraries(&libraries).as_bytes())
}

/// One block per library: its name and engine, one line per function
/// (name, `[flags]`, description), then its code when listed with it.
pub fn format_libraries(libraries: &[LibraryInfo]) -> String {
    let mut out = String::new();
    for library in libraries {
        out.push_str(&format!("{} ({})\n", library.name, library.engine));
        for function in &library.functions {
            out.push_str(&format!("  {}", function.name));
            if !function.flags.is_empty() {
                out.push_str(&format!(" [{}]", function.flags.join(", ")));
            }
            if let Some(description) = &function.description {
                out.push_str(&format!(" - {description}"));
            }
            out.push('\n');
        }
        if let Some(code) = &library.code {
            out.push_str(code);
            if !code.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FunctionInfo;

    fn parse(line: &str) -> Result<Option<Tool>, clap::Error> {
        let words: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        Tool::from_command(&words)
    }

    #[test]
    fn only_fn_and_fcall_are_tools() {
        assert!(parse("GET k").unwrap().is_none());
        assert!(parse("FCALL f 0").unwrap().is_none()); // typed as a command
        assert!(parse("function list").unwrap().is_none());
        assert!(Tool::from_command(&[]).unwrap().is_none());
    }

    #[test]
    fn help_takes_its_topic_in_any_case() {
        assert!(matches!(
            parse("HELP @hash").unwrap(),
            Some(Tool::Help { topic }) if topic == ["@hash"]
        ));
        assert!(matches!(
            parse("help").unwrap(),
            Some(Tool::Help { topic }) if topic.is_empty()
        ));
    }

    #[test]
    fn parses_fn_subcommands() {
        let Some(Tool::Fn(FnCommand::Load { file, replace })) =
            parse("fn load lib.js --replace").unwrap()
        else {
            panic!("fn load")
        };
        assert_eq!((file, replace), (PathBuf::from("lib.js"), true));
        let Some(Tool::Fn(FnCommand::List { code, pattern })) = parse("fn list --code c*").unwrap()
        else {
            panic!("fn list")
        };
        assert!(code);
        assert_eq!(pattern.as_deref(), Some("c*"));
        assert!(matches!(
            parse("fn list").unwrap(),
            Some(Tool::Fn(FnCommand::List {
                code: false,
                pattern: None
            }))
        ));
        assert!(matches!(
            parse("fn delete counter").unwrap(),
            Some(Tool::Fn(FnCommand::Delete { library })) if library == "counter"
        ));
        assert!(parse("fn load").is_err());
        assert!(parse("fn unload x").is_err());
        assert!(parse("fn").is_err());
    }

    #[test]
    fn parses_fcall_keeping_later_words_literal() {
        let Some(Tool::Fcall(call)) = parse("fcall --ro count 1 visits -5 --ro").unwrap() else {
            panic!("fcall")
        };
        assert!(call.ro);
        assert_eq!(call.function, "count");
        assert_eq!(call.numkeys, 1);
        assert_eq!(call.rest, ["visits", "-5", "--ro"].map(OsString::from));
        let Some(Tool::Fcall(call)) = parse("fcall hit 0").unwrap() else {
            panic!("fcall")
        };
        assert!(!call.ro && call.rest.is_empty());
        assert!(parse("fcall hit").is_err());
        assert!(parse("fcall hit many").is_err());
    }

    #[test]
    fn lists_libraries() {
        let libraries = [LibraryInfo {
            name: "counter".into(),
            engine: "JS".into(),
            functions: vec![
                FunctionInfo {
                    name: "hit".into(),
                    ..Default::default()
                },
                FunctionInfo {
                    name: "count".into(),
                    description: Some("The count".into()),
                    flags: vec!["no-writes".into(), "allow-stale".into()],
                },
            ],
            code: Some("#!js name=counter\nkiln;".into()),
        }];
        assert_eq!(
            format_libraries(&libraries),
            concat!(
                "counter (JS)\n",
                "  hit\n",
                "  count [no-writes, allow-stale] - The count\n",
                "#!js name=counter\n",
                "kiln;\n",
            )
        );
        assert_eq!(format_libraries(&[]), "");
    }
}
