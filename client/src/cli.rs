//! `kiln-cli`: argument parsing, the interactive prompt, and reply
//! formatting that matches `redis-cli` byte for byte.
//!
//! Output modes, as redis-cli chooses them: [`OutputMode::Standard`] when
//! stdout is a terminal (`"quoted"` strings, `(integer) 1`, numbered nested
//! arrays), [`OutputMode::Raw`] when it is piped or with `--raw` (values as
//! they are, one per line).
//!
//! `kiln-cli fn load|list|delete` and `kiln-cli fcall` are storage-function
//! tools ([`tools`]), `kiln-cli help @<group>` / `help <command>` is command
//! help ([`help`]); any other first word is a command for the server.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

use clap::{ArgAction, Parser};
use kiln_net::Reply;

use crate::{Client, Error};

pub mod help;
pub mod snippet;
pub mod tools;

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// redis-cli's human-readable form (stdout is a terminal).
    Standard,
    /// redis-cli's `--raw` form (stdout is piped).
    Raw,
}

/// Formats `reply` as redis-cli prints it, trailing newline included.
pub fn format_reply(reply: &Reply, mode: OutputMode) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        OutputMode::Standard => format_standard(reply, "", &mut out),
        OutputMode::Raw => {
            format_raw(reply, &mut out);
            out.push(b'\n');
        }
    }
    out
}

/// Appends `bytes` quoted and escaped like redis's `sdscatrepr`.
pub fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in bytes {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// A double as text: shortest round-trip digits, exponent form for very large
/// or small magnitudes, `inf` / `-inf` / `nan`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf".into() } else { "-inf".into() }
    } else if d != 0.0 && !(1e-5..1e17).contains(&d.abs()) {
        format!("{d:e}")
    } else {
        format!("{d}")
    }
}

fn elements(reply: &Reply) -> Option<(usize, char)> {
    match reply {
        Reply::Array(items) | Reply::Push(items) => Some((items.len(), ')')),
        Reply::Set(items) => Some((items.len(), '~')),
        Reply::Map(pairs) => Some((pairs.len(), '#')),
        _ => None,
    }
}

/// redis-cli's `cliIsMultilineValueTTY`.
fn is_multiline(reply: &Reply) -> bool {
    match reply {
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            items.len() > 1 || items.first().is_some_and(is_multiline)
        }
        Reply::Map(pairs) => pairs.len() > 1 || pairs.first().is_some_and(|(_, v)| is_multiline(v)),
        _ => false,
    }
}

/// redis-cli's `cliFormatReplyTTY`.
fn format_standard(reply: &Reply, prefix: &str, out: &mut Vec<u8>) {
    match reply {
        Reply::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e.as_bytes());
        }
        Reply::Status(s) => out.extend_from_slice(s.as_bytes()),
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Reply::Double(d) => {
            out.extend_from_slice(format!("(double) {}", format_double(*d)).as_bytes())
        }
        Reply::BigNumber(n) => out.extend_from_slice(format!("(big number) {n}").as_bytes()),
        Reply::Bulk(b) => escape(b, out),
        Reply::Verbatim(_, text) => out.extend_from_slice(text),
        Reply::Nil | Reply::NilArray => out.extend_from_slice(b"(nil)"),
        Reply::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Pairs(_) | Reply::KeyedArrays(_) => {
            return format_standard(&as_nested(reply), prefix, out);
        }
        Reply::Array(_) | Reply::Set(_) | Reply::Push(_) | Reply::Map(_) => {
            let (count, sep) = elements(reply).unwrap_or((0, ')'));
            if count == 0 {
                out.extend_from_slice(match reply {
                    Reply::Map(_) => b"(empty hash)",
                    Reply::Set(_) => b"(empty set)",
                    Reply::Push(_) => b"(empty push)",
                    _ => b"(empty array)",
                });
            } else {
                let width = count.to_string().len();
                let inner = format!("{prefix}{}", " ".repeat(width + 2));
                let line = |i: usize, out: &mut Vec<u8>| {
                    let lead = if i == 0 { "" } else { prefix };
                    out.extend_from_slice(format!("{lead}{:>width$}{sep} ", i + 1).as_bytes());
                };
                match reply {
                    Reply::Map(pairs) => {
                        for (i, (key, value)) in pairs.iter().enumerate() {
                            line(i, out);
                            format_standard(key, &inner, out);
                            out.pop(); // the key's newline
                            out.extend_from_slice(b" => ");
                            if is_multiline(value) {
                                out.push(b'\n');
                                out.extend_from_slice(inner.as_bytes());
                            }
                            format_standard(value, &inner, out);
                        }
                    }
                    Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                        for (i, item) in items.iter().enumerate() {
                            line(i, out);
                            format_standard(item, &inner, out);
                        }
                    }
                    _ => {}
                }
                return; // each element ended its own line
            }
        }
    }
    out.push(b'\n');
}

/// redis-cli's `cliFormatReplyRaw` (without the final newline).
fn format_raw(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Nil | Reply::NilArray => {}
        Reply::Error(e) => {
            out.extend_from_slice(e.as_bytes());
            out.push(b'\n');
        }
        Reply::Status(s) => out.extend_from_slice(s.as_bytes()),
        Reply::Bulk(b) | Reply::Verbatim(_, b) => out.extend_from_slice(b),
        Reply::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(d) => out.extend_from_slice(format_double(*d).as_bytes()),
        Reply::BigNumber(n) => out.extend_from_slice(n.as_bytes()),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                format_raw(item, out);
            }
        }
        Reply::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                format_raw(key, out);
                out.push(b' ');
                format_raw(value, out);
            }
        }
        Reply::Pairs(_) | Reply::KeyedArrays(_) => format_raw(&as_nested(reply), out),
    }
}

/// A `Pairs` reply as the array of pairs RESP3 sends (never decoded from
/// the wire; only a reply built in-process can hold one).
fn as_nested(reply: &Reply) -> Reply {
    match reply {
        Reply::Pairs(pairs) | Reply::KeyedArrays(pairs) => Reply::Array(
            pairs
                .iter()
                .map(|(a, b)| Reply::Array(vec![a.clone(), b.clone()]))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Command-line options of `kiln-cli` (redis-cli's names).
#[derive(Debug, Parser)]
#[command(
    name = "kiln-cli",
    version,
    about = "Command-line client for Kiln",
    disable_help_flag = true,
    after_help = "Storage functions:\n  \
        kiln-cli fn load FILE [--replace]   load a library (errors point at the line)\n  \
        kiln-cli fn list [--code] [PATTERN] list libraries and their functions\n  \
        kiln-cli fn delete LIBRARY          delete a library\n  \
        kiln-cli fcall [--ro] FUNCTION NUMKEYS [KEY...] [ARG...]\n\
        See kiln-cli fn --help and kiln-cli fcall --help.\n\n\
        Command help (also at the prompt):\n  \
        kiln-cli help @<group>              a group's commands: @hash, @list, @set, @sorted-set, @bitmap, @hyperloglog, @transactions, @pubsub\n  \
        kiln-cli help <command>             one command's arguments"
)]
pub struct CliArgs {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Server host.
    #[arg(short = 'h', long = "host", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port (the main port).
    #[arg(short = 'p', long = "port", default_value_t = 7379)]
    pub port: u16,
    /// Password (AUTH).
    #[arg(
        short = 'a',
        long = "pass",
        env = "KILNCLI_AUTH",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// User (tenant) name for AUTH.
    #[arg(long = "user")]
    pub user: Option<String>,
    /// Database number.
    #[arg(short = 'n', default_value_t = 0)]
    pub db: i64,
    /// Speak RESP3 (HELLO 3).
    #[arg(short = '3', long = "resp3")]
    pub resp3: bool,
    /// Cluster routing: send each command to the core owning its key (default).
    #[arg(short = 'c', overrides_with = "no_cluster")]
    pub cluster: bool,
    /// Send everything to the main port and show MOVED errors.
    #[arg(long = "no-cluster")]
    pub no_cluster: bool,
    /// Raw output, even on a terminal.
    #[arg(long, overrides_with = "no_raw")]
    pub raw: bool,
    /// Formatted output, even when piped.
    #[arg(long = "no-raw")]
    pub no_raw: bool,
    /// The command to run; none starts the interactive prompt.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

impl CliArgs {
    /// The output mode these options and stdout call for.
    pub fn output_mode(&self) -> OutputMode {
        if self.raw {
            OutputMode::Raw
        } else if self.no_raw || io::stdout().is_terminal() {
            OutputMode::Standard
        } else {
            OutputMode::Raw
        }
    }
}

/// Runs `kiln-cli`; returns the process exit code.
pub fn run(args: CliArgs) -> i32 {
    let tool = match tools::Tool::from_command(&args.command) {
        Ok(tool) => tool,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    // Help needs no server.
    if let Some(tools::Tool::Help { topic }) = &tool {
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(help::render(topic).as_bytes());
        let _ = stdout.flush();
        return 0;
    }
    let mut builder = Client::builder()
        .resp3(args.resp3)
        .cluster(!args.no_cluster)
        .database(args.db);
    if let Some(user) = &args.user {
        builder = builder.user(user.clone());
    }
    if let Some(password) = &args.password {
        builder = builder.password(password.clone());
    }
    let mut client = match builder.connect((args.host.as_str(), args.port)) {
        Ok(client) => client,
        Err(e) => {
            eprintln!(
                "Could not connect to Kiln at {}:{}: {}",
                args.host,
                args.port,
                describe(&e)
            );
            return 1;
        }
    };
    let mode = args.output_mode();
    if let Some(tool) = tool {
        tools::run(&mut client, tool, mode)
    } else if args.command.is_empty() {
        interactive(&mut client, &args, mode)
    } else {
        let command: Vec<Vec<u8>> = args
            .command
            .iter()
            .map(|a| a.clone().into_encoded_bytes())
            .collect();
        match execute(&mut client, &command, mode) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("{}", describe(&e));
                1
            }
        }
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Runs one command and prints its reply (error replies included).
fn execute(client: &mut Client, command: &[Vec<u8>], mode: OutputMode) -> Result<(), Error> {
    let reply = client.cmd_reply(command)?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(&format_reply(&reply, mode))?;
    stdout.flush()?;
    Ok(())
}

fn prompt(args: &CliArgs, db: i64) -> String {
    let host = if args.host.contains(':') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    if db != 0 {
        format!("{host}:{}[{db}]> ", args.port)
    } else {
        format!("{host}:{}> ", args.port)
    }
}

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".kilncli_history"))
}

fn interactive(client: &mut Client, args: &CliArgs, mode: OutputMode) -> i32 {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("cannot start the line editor: {e}");
            return 1;
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    loop {
        let line = match editor.readline(&prompt(args, client.database())) {
            Ok(line) => line,
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => {
                eprintln!("{e}");
                break;
            }
        };
        let Some(words) = kiln_net::resp::split_args(line.as_bytes()) else {
            println!("Invalid argument(s)");
            continue;
        };
        let Some(first) = words.first() else {
            continue;
        };
        let _ = editor.add_history_entry(line.as_str());
        if first.eq_ignore_ascii_case(b"quit") || first.eq_ignore_ascii_case(b"exit") {
            break;
        }
        // A tool line is text; anything else goes to the server byte for byte.
        let typed: Vec<OsString> = words
            .iter()
            .map_while(|w| std::str::from_utf8(w).ok().map(OsString::from))
            .collect();
        let typed = if typed.len() == words.len() {
            &typed[..]
        } else {
            &[]
        };
        match tools::Tool::from_command(typed) {
            Ok(Some(tool)) => {
                tools::run(client, tool, mode);
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                let _ = e.print();
                continue;
            }
        }
        if let Err(e) = execute(client, &words, mode) {
            // The client reconnects on the next command.
            println!("Error: {}", describe(&e));
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    0
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn standard(reply: &Reply) -> String {
        String::from_utf8(format_reply(reply, OutputMode::Standard)).unwrap()
    }

    fn raw(reply: &Reply) -> Vec<u8> {
        format_reply(reply, OutputMode::Raw)
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn scalars_standard() {
        assert_eq!(standard(&Reply::OK), "OK\n");
        assert_eq!(standard(&Reply::Integer(-3)), "(integer) -3\n");
        assert_eq!(standard(&Reply::Nil), "(nil)\n");
        assert_eq!(standard(&Reply::NilArray), "(nil)\n");
        assert_eq!(
            standard(&Reply::error("ERR unknown command 'foo'")),
            "(error) ERR unknown command 'foo'\n"
        );
        assert_eq!(standard(&bulk("hello")), "\"hello\"\n");
        assert_eq!(standard(&Reply::Double(1.5)), "(double) 1.5\n");
        assert_eq!(standard(&Reply::Double(3.0)), "(double) 3\n");
        assert_eq!(
            standard(&Reply::Double(f64::NEG_INFINITY)),
            "(double) -inf\n"
        );
        assert_eq!(standard(&Reply::Double(1e300)), "(double) 1e300\n");
        assert_eq!(standard(&Reply::Boolean(true)), "(true)\n");
        assert_eq!(standard(&Reply::Boolean(false)), "(false)\n");
        assert_eq!(
            standard(&Reply::BigNumber("12345678901234567890".into())),
            "(big number) 12345678901234567890\n"
        );
        assert_eq!(
            standard(&Reply::Verbatim(
                "txt",
                Bytes::from_static(b"# Server\r\nx:1")
            )),
            "# Server\r\nx:1\n"
        );
    }

    #[test]
    fn escaping_like_sdscatrepr() {
        let value = Reply::Bulk(Bytes::from_static(b"a\nb\x00\xff\"\\\r\t\x07\x08~ "));
        assert_eq!(
            standard(&value),
            "\"a\\nb\\x00\\xff\\\"\\\\\\r\\t\\a\\b~ \"\n"
        );
        assert_eq!(standard(&bulk("")), "\"\"\n");
    }

    #[test]
    fn nested_arrays_standard() {
        // Checked against redis-cli 7.0:
        // EVAL "return {1,{2,{3,'x'},{}},'a\nb\0\255\"\\\\',4,5,6,7,8,9,10,{11,{12}}}" 0
        let reply = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![
                Reply::Integer(2),
                Reply::Array(vec![Reply::Integer(3), bulk("x")]),
                Reply::Array(vec![]),
            ]),
            Reply::Bulk(Bytes::from_static(b"a\nb\x00\xff\"\\")),
            Reply::Integer(4),
            Reply::Integer(5),
            Reply::Integer(6),
            Reply::Integer(7),
            Reply::Integer(8),
            Reply::Integer(9),
            Reply::Integer(10),
            Reply::Array(vec![
                Reply::Integer(11),
                Reply::Array(vec![Reply::Integer(12)]),
            ]),
        ]);
        let expected = concat!(
            " 1) (integer) 1\n",
            " 2) 1) (integer) 2\n",
            "    2) 1) (integer) 3\n",
            "       2) \"x\"\n",
            "    3) (empty array)\n",
            " 3) \"a\\nb\\x00\\xff\\\"\\\\\"\n",
            " 4) (integer) 4\n",
            " 5) (integer) 5\n",
            " 6) (integer) 6\n",
            " 7) (integer) 7\n",
            " 8) (integer) 8\n",
            " 9) (integer) 9\n",
            "10) (integer) 10\n",
            "11) 1) (integer) 11\n",
            "    2) 1) (integer) 12\n",
        );
        assert_eq!(standard(&reply), expected);
        assert_eq!(standard(&Reply::Array(vec![])), "(empty array)\n");
    }

    #[test]
    fn maps_and_sets_standard() {
        let map = Reply::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]);
        assert_eq!(standard(&map), "1# \"a\" => \"1\"\n2# \"b\" => \"2\"\n");
        // A multi-line value starts on its own line (redis-cli 7).
        let nested = Reply::Map(vec![
            (
                bulk("a"),
                Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)]),
            ),
            (bulk("b"), Reply::Map(vec![])),
        ]);
        assert_eq!(
            standard(&nested),
            "1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n2# \"b\" => (empty hash)\n"
        );
        let hello = Reply::Map(vec![
            (bulk("proto"), Reply::Integer(3)),
            (bulk("modules"), Reply::Array(vec![])),
        ]);
        assert_eq!(
            standard(&hello),
            "1# \"proto\" => (integer) 3\n2# \"modules\" => (empty array)\n"
        );
        let one = Reply::Map(vec![(bulk("k"), Reply::Array(vec![bulk("v")]))]);
        assert_eq!(standard(&one), "1# \"k\" => 1) \"v\"\n");
        assert_eq!(
            standard(&Reply::Set(vec![bulk("x"), bulk("y")])),
            "1~ \"x\"\n2~ \"y\"\n"
        );
        assert_eq!(standard(&Reply::Set(vec![])), "(empty set)\n");
        assert_eq!(standard(&Reply::Map(vec![])), "(empty hash)\n");
        assert_eq!(standard(&Reply::Push(vec![])), "(empty push)\n");
    }

    #[test]
    fn raw_output() {
        assert_eq!(raw(&bulk("a\nb")), b"a\nb\n");
        assert_eq!(
            raw(&Reply::Bulk(Bytes::from_static(b"\x00\xff"))),
            b"\x00\xff\n"
        );
        assert_eq!(raw(&Reply::Integer(7)), b"7\n");
        assert_eq!(raw(&Reply::Nil), b"\n");
        assert_eq!(raw(&Reply::OK), b"OK\n");
        // redis-cli 7 prints the error text and an extra blank line.
        assert_eq!(raw(&Reply::error("ERR nope")), b"ERR nope\n\n");
        assert_eq!(raw(&Reply::Double(2.5)), b"2.5\n");
        assert_eq!(raw(&Reply::Boolean(true)), b"(true)\n");
        assert_eq!(
            raw(&Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::Integer(2), Reply::Integer(3)])
            ])),
            b"1\n2\n3\n"
        );
        let map = Reply::Map(vec![
            (bulk("a"), bulk("1")),
            (bulk("b"), Reply::Map(vec![])),
        ]);
        assert_eq!(raw(&map), b"a 1\nb \n");
        assert_eq!(raw(&Reply::Array(vec![])), b"\n");
    }

    #[test]
    fn options() {
        let args = CliArgs::try_parse_from([
            "kiln-cli", "-h", "10.0.0.1", "-p", "7000", "-3", "--raw", "set", "k", "-1",
        ])
        .unwrap();
        assert_eq!(args.host, "10.0.0.1");
        assert_eq!(args.port, 7000);
        assert!(args.resp3 && args.raw && !args.no_cluster);
        assert_eq!(args.command, ["set", "k", "-1"].map(OsString::from));
        assert_eq!(args.output_mode(), OutputMode::Raw);
        let args = CliArgs::try_parse_from(["kiln-cli"]).unwrap();
        assert_eq!((args.host.as_str(), args.port), ("127.0.0.1", 7379));
        assert!(args.command.is_empty());
        assert!(CliArgs::try_parse_from(["kiln-cli", "--help"]).is_err()); // clap's help "error"
        assert_eq!(prompt(&args, 0), "127.0.0.1:7379> ");
        assert_eq!(prompt(&args, 2), "127.0.0.1:7379[2]> ");
    }
}
