//! `kiln-cli` end to end: the real binary against a real Kiln server.
//!
//! Only this package can run the `kiln-cli` binary (`CARGO_BIN_EXE_*` is set
//! for a package's own binaries), so the server is started in-process
//! (`common::TestServer`, the same start-up `kiln-server` runs) on free
//! loopback ports; it is listening when `start` returns.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TestServer as CliServer;

impl CliServer {
    /// Runs `kiln-cli -p <port> words...` (stdout is a pipe: raw output).
    fn cli(&self, words: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kiln-cli"))
            .args(["-p", &self.port.to_string()])
            .args(words)
            .output()
            .expect("run kiln-cli")
    }
}

impl CliServer {
    /// Runs the `kiln-cli -p <port>` prompt on `lines` (stdin is a pipe;
    /// its history file goes to the server's temporary directory).
    fn prompt(&self, lines: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln-cli"))
            .args(["-p", &self.port.to_string()])
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kiln-cli");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(lines.as_bytes()).expect("type the lines");
        drop(stdin);
        child.wait_with_output().expect("kiln-cli output")
    }
}

/// Stdout of a run that must succeed.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "kiln-cli failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Stderr of a run that must fail with exit code 1.
fn failed(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("UTF-8 errors")
}

/// A key whose slot core `core` of two owns (each owns half the slots).
fn key_on_core(core: usize) -> String {
    (0..)
        .map(|i| format!("visits{i}"))
        .find(|k| usize::from(kiln_net::slot::key_slot(k.as_bytes())) / 8192 == core)
        .expect("a key in every half")
}

fn library_file(code: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".js")
        .tempfile()
        .expect("temporary library file");
    file.write_all(code.as_bytes()).expect("write the library");
    file
}

/// The example counter library: `hit` and `count` (no-writes, described).
const COUNTER: &str = include_str!("../../examples/functions/counter.js");

#[test]
fn a_syntax_error_shows_the_line_and_a_caret_under_the_column() {
    let server = CliServer::start();
    let source = "#!js name=bad\nkiln.registerFunction('f', () => {\n  return )\n});\n";
    let file = library_file(source);
    let path = file.path().display().to_string();
    let errors = failed(server.cli(&["fn", "load", &path]));
    assert_eq!(
        errors,
        format!(
            "error: ERR Error compiling library 'bad': bad:3:10: SyntaxError: Unexpected token ')'\n\
             \x20--> {path}:3:10\n\
             \x20 |\n\
             3 |   return )\n\
             \x20 |          ^\n"
        )
    );
    // The caret sits under the reported column of the printed line.
    let lines: Vec<&str> = errors.lines().collect();
    let code = lines[3].strip_prefix("3 | ").unwrap();
    let caret = lines[4].find('^').unwrap() - "  | ".len();
    assert_eq!(code, source.lines().nth(2).unwrap());
    assert_eq!(&code[caret..=caret], ")");
}

#[test]
fn a_registration_error_points_at_the_call_through_tabs() {
    let server = CliServer::start();
    let source = "#!js name=dup\nkiln.registerFunction('f', () => 1);\n\tkiln.registerFunction('f', () => 2);\n";
    let file = library_file(source);
    let path = file.path().display().to_string();
    let errors = failed(server.cli(&["fn", "load", &path]));
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines[0],
        "error: ERR Error registering functions: dup:3:7: Function already exists in the library"
    );
    assert_eq!(lines[1], format!(" --> {path}:3:7"));
    // The tab is drawn as four spaces; the caret is under `registerFunction`.
    assert_eq!(lines[3], "3 |     kiln.registerFunction('f', () => 2);");
    assert_eq!(lines[4], format!("  | {}^", " ".repeat(9)));
}

#[test]
fn load_list_call_and_delete() {
    let server = CliServer::start();
    let file = library_file(COUNTER);
    let path = file.path().display().to_string();
    assert_eq!(ok(server.cli(&["fn", "load", &path])), "counter\n");
    let errors = failed(server.cli(&["fn", "load", &path]));
    assert_eq!(errors, "error: ERR Library 'counter' already exists\n");
    assert_eq!(
        ok(server.cli(&["fn", "load", &path, "--replace"])),
        "counter\n"
    );

    let listing = "counter (JS)\n  hit\n  count [no-writes] - The current count (0 when absent)\n";
    assert_eq!(ok(server.cli(&["fn", "list"])), listing);
    assert_eq!(ok(server.cli(&["fn", "list", "c*"])), listing);
    assert_eq!(ok(server.cli(&["fn", "list", "x*"])), "");
    assert_eq!(
        ok(server.cli(&["fn", "list", "--code"])),
        format!("{listing}{COUNTER}")
    );

    // Keys on both cores; an argument that looks like a flag stays an argument.
    for key in [key_on_core(0), key_on_core(1)] {
        assert_eq!(ok(server.cli(&["fcall", "hit", "1", &key, "5"])), "5\n");
        assert_eq!(ok(server.cli(&["fcall", "hit", "1", &key, "-2"])), "3\n");
        assert_eq!(
            ok(server.cli(&["fcall", "--ro", "count", "1", &key])),
            "3\n"
        );
    }
    let visits = key_on_core(0);
    // FCALL_RO refuses a function that may write; the reply is printed as
    // any command's error reply is.
    let refused = ok(server.cli(&["fcall", "--ro", "hit", "1", &visits]));
    assert!(refused.starts_with("ERR "), "{refused}");
    assert_eq!(ok(server.cli(&["GET", &visits])), "3\n");

    assert_eq!(ok(server.cli(&["fn", "delete", "counter"])), "OK\n");
    assert_eq!(
        failed(server.cli(&["fn", "delete", "counter"])),
        "error: ERR Library not found\n"
    );
    assert_eq!(ok(server.cli(&["fn", "list"])), "");
}

#[test]
fn other_commands_and_usage_errors() {
    let server = CliServer::start();
    // Plain commands still go to the server as typed.
    assert_eq!(ok(server.cli(&["SET", "k", "-1"])), "OK\n");
    assert_eq!(ok(server.cli(&["GET", "k"])), "-1\n");
    assert_eq!(ok(server.cli(&["FUNCTION", "LIST"])), "\n");
    // Usage errors are clap's (exit code 2), before anything is sent.
    let usage = server.cli(&["fn", "load"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("<FILE>"));
    assert_eq!(server.cli(&["fcall", "hit", "many"]).status.code(), Some(2));
    // A file that cannot be read.
    let missing = failed(server.cli(&["fn", "load", "/nonexistent/lib.js"]));
    assert!(
        missing.starts_with("error: cannot read /nonexistent/lib.js: "),
        "{missing}"
    );
    let help = ok(server.cli(&["--help"]));
    assert!(help.contains("kiln-cli fn load FILE"), "{help}");
}

#[test]
fn the_prompt_runs_the_tools_too() {
    let server = CliServer::start();
    let file = library_file(COUNTER);
    let path = file.path().display().to_string();
    let key = key_on_core(1);
    let output = server.prompt(&format!(
        "fn load {path}\nfcall hit 1 {key} 2\nfcall --ro count 1 {key}\nfn nope\nfn list\nget {key}\n"
    ));
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "counter\n2\n2\ncounter (JS)\n  hit\n  count [no-writes] - The current count (0 when absent)\n2\n"
    );
    let errors = String::from_utf8(output.stderr).unwrap();
    assert!(
        errors.contains("unrecognized subcommand 'nope'"),
        "{errors}"
    );
}

#[test]
fn help_lists_the_collection_commands() {
    let server = CliServer::start();
    let hash = ok(server.cli(&["help", "@hash"]));
    assert!(
        hash.starts_with("\n  HSET key field value [field value ...]\n  summary: "),
        "{hash}"
    );
    assert!(
        hash.contains("\n  HRANDFIELD key [count [WITHVALUES]]\n"),
        "{hash}"
    );
    let zadd = ok(server.cli(&["HELP", "zadd"]));
    assert!(zadd.contains("  group: sorted-set\n"), "{zadd}");
    assert!(ok(server.cli(&["help", "@list"])).contains("\n  BLMPOP timeout numkeys key"));
    assert!(ok(server.cli(&["--help"])).contains("kiln-cli help @<group>"));
    // One-shot help needs no server.
    let offline = Command::new(env!("CARGO_BIN_EXE_kiln-cli"))
        .args(["-p", "1", "help", "lpush"])
        .output()
        .expect("run kiln-cli");
    assert!(ok(offline).contains("  LPUSH key element [element ...]\n"));
    // At the prompt too, between commands for the server.
    let output = server.prompt("help sadd\nsadd s a b\nhelp @nope\n");
    assert!(output.status.success());
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.starts_with("\n  SADD key member [member ...]\n"),
        "{out}"
    );
    assert!(out.contains("\n2\nNo such group: @nope."), "{out}");
}
