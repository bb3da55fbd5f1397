//! Pointing at the source of a storage-function error, the way rustc and
//! clang do:
//!
//! ```text
//! error: Error compiling library 'bad': bad:3:10: SyntaxError: Unexpected token ')'
//!  --> bad.js:3:10
//!   |
//! 3 |   return )
//!   |          ^
//! ```
//!
//! The server reports a library's load errors as `<library>:<line>:<column>:`
//! inside the error text, both 1-based, in the text the user wrote (the
//! `#!js` line is line 1). Columns count UTF-16 code units, as V8 does.
//! [`locate`] finds that place in an error text; [`render`] draws the line
//! and the caret. Tabs are drawn as four spaces, long lines are cut to a
//! window around the column, and a column past the end of its line points
//! just after the line's last character. Wide (East Asian) characters are
//! counted as one column each.

/// Where an error points, as the server wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location<'a> {
    /// The library named in the location.
    pub library: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in UTF-16 code units.
    pub column: usize,
}

/// An error text split around its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<'a> {
    /// The text before the location (`Error compiling library 'bad'`).
    pub headline: &'a str,
    /// The location.
    pub location: Location<'a>,
    /// The text after it (`SyntaxError: Unexpected token ')'`).
    pub message: &'a str,
}

/// Widest source line drawn; longer lines are cut around the column.
const MAX_WIDTH: usize = 100;
/// Columns of context kept left of the caret when a line is cut.
const LEFT_CONTEXT: usize = 40;
/// How a tab is drawn.
const TAB: &str = "    ";
/// Marks where a cut line continues.
const ELLIPSIS: &str = "...";

/// Finds the first `library:line:column` segment of an error text (segments
/// are separated by `": "`), such as
/// `Error registering functions: lib:3:6: Function already exists`.
pub fn locate(error: &str) -> Option<Located<'_>> {
    let mut from = 0;
    loop {
        let end = error[from..].find(": ").map(|i| from + i);
        let segment = &error[from..end.unwrap_or(error.len())];
        if let Some(location) = parse_location(segment) {
            let before = &error[..from];
            return Some(Located {
                headline: before.strip_suffix(": ").unwrap_or(before),
                location,
                message: end.map_or("", |end| &error[end + 2..]),
            });
        }
        from = end? + 2;
    }
}

/// `library:line:column`, the library a Redis library name
/// (`[A-Za-z0-9_]+`).
fn parse_location(segment: &str) -> Option<Location<'_>> {
    let mut parts = segment.rsplitn(3, ':');
    let column = parts.next()?;
    let line = parts.next()?;
    let library = parts.next()?;
    let is_name =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(is_name(library) && is_number(line) && is_number(column)) {
        return None;
    }
    Some(Location {
        library,
        line: line.parse().ok()?,
        column: column.parse().ok()?,
    })
}

/// Draws the `-->` line naming `path`, then the source line of `source` at
/// `location` with a caret under its column. A line that `source` does not
/// have (0, or past the end) gets the `-->` line alone.
pub fn render(source: &str, path: &str, location: &Location<'_>) -> String {
    let gutter = location.line.to_string();
    let pad = " ".repeat(gutter.len());
    let mut out = format!("{pad}--> {path}:{}:{}\n", location.line, location.column);
    let Some(text) = location
        .line
        .checked_sub(1)
        .and_then(|i| source.split('\n').nth(i))
    else {
        return out;
    };
    let text = text.strip_suffix('\r').unwrap_or(text);
    let (cells, caret) = cells(text, location.column);
    let (shown, caret) = window(&cells, caret);
    out.push_str(&format!("{pad} |\n"));
    out.push_str(format!("{gutter} | {shown}").trim_end());
    out.push('\n');
    out.push_str(&format!("{pad} | {}^\n", " ".repeat(caret)));
    out
}

/// The line as drawn (one string per screen column) and the caret's index
/// among them. The caret goes under the character where the 1-based UTF-16
/// `column` starts, or just past the end.
fn cells(text: &str, column: usize) -> (Vec<&str>, usize) {
    let target = column.saturating_sub(1);
    let mut cells = Vec::with_capacity(text.len());
    let (mut units, mut caret) = (0, None);
    for (at, c) in text.char_indices() {
        if caret.is_none() && units >= target {
            caret = Some(cells.len());
        }
        units += c.len_utf16();
        match c {
            '\t' => cells.extend(std::iter::repeat_n(" ", TAB.len())),
            c if c.is_control() => cells.push("\u{fffd}"),
            _ => cells.push(&text[at..at + c.len_utf8()]),
        }
    }
    let caret = caret.unwrap_or(cells.len());
    (cells, caret)
}

/// At most [`MAX_WIDTH`] cells around the caret, with `...` where the line
/// was cut; the caret's column in what is returned.
fn window(cells: &[&str], caret: usize) -> (String, usize) {
    if cells.len() <= MAX_WIDTH {
        return (cells.concat(), caret);
    }
    let start = caret
        .saturating_sub(LEFT_CONTEXT)
        .min(cells.len().saturating_sub(MAX_WIDTH));
    let end = (start + MAX_WIDTH).min(cells.len());
    let mut shown = String::new();
    let mut caret = caret - start;
    if start > 0 {
        shown.push_str(ELLIPSIS);
        caret += ELLIPSIS.len();
    }
    shown.push_str(&cells[start..end].concat());
    if end < cells.len() {
        shown.push_str(ELLIPSIS);
    }
    (shown, caret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Location<'static> {
        Location {
            library: "lib",
            line,
            column,
        }
    }

    /// The caret line's `^` position relative to the source text column.
    fn caret_offset(drawn: &str) -> usize {
        let caret_line = drawn.lines().last().unwrap();
        caret_line.find('^').unwrap() - caret_line.find('|').unwrap() - 2
    }

    #[test]
    fn locates_compile_and_registration_errors() {
        let error = "Error compiling library 'bad': bad:3:10: SyntaxError: Unexpected token ')'";
        assert_eq!(
            locate(error),
            Some(Located {
                headline: "Error compiling library 'bad'",
                location: Location {
                    library: "bad",
                    line: 3,
                    column: 10
                },
                message: "SyntaxError: Unexpected token ')'",
            })
        );
        let error =
            "ERR Error registering functions: lib_2:3:6: Function already exists in the library";
        let located = locate(error).unwrap();
        assert_eq!(located.headline, "ERR Error registering functions");
        assert_eq!(located.location, at(3, 6).with_library("lib_2"));
        assert_eq!(located.message, "Function already exists in the library");
        // A location at the very end, with nothing after it.
        assert_eq!(locate("x: lib:1:2").unwrap().message, "");
        assert_eq!(locate("lib:1:2: m").unwrap().headline, "");
    }

    #[test]
    fn ignores_texts_without_a_location() {
        for error in [
            "ERR Library 'lib' already exists",
            "ERR Missing library metadata",
            "Error registering functions: lib: boom",
            "Error: a:b:c: d",
            "Error: lib:1: d",
            "Error: l-b:1:2: d",
            "Error: lib:1:x2: d",
            "Error: :1:2: d",
            "Error: lib:99999999999999999999999:1: d",
            "",
            ": ",
        ] {
            assert_eq!(locate(error), None, "{error}");
        }
    }

    #[test]
    fn draws_the_line_and_a_caret() {
        let source = "#!js name=bad\nkiln.registerFunction('f', () => {\n  return )\n});";
        assert_eq!(
            render(source, "bad.js", &at(3, 10)),
            concat!(
                " --> bad.js:3:10\n",
                "  |\n",
                "3 |   return )\n",
                "  |          ^\n",
            )
        );
        // A wider gutter for line 10, and CRLF line endings.
        let source = "a\r\n".repeat(9) + "  x y\r\n";
        assert_eq!(
            render(&source, "f.js", &at(10, 5)),
            concat!(
                "  --> f.js:10:5\n",
                "   |\n",
                "10 |   x y\n",
                "   |     ^\n",
            )
        );
    }

    #[test]
    fn tabs_and_wide_characters_keep_the_caret_under_its_character() {
        let drawn = render("\tx\t= )", "t.js", &at(1, 6));
        assert_eq!(drawn.lines().nth(2).unwrap(), "1 |     x    = )");
        assert_eq!(caret_offset(&drawn), "    x    = ".len());
        // 'é' is one UTF-16 unit, '😀' two: column 7 is the ')', the
        // sixth character.
        let drawn = render("é😀 = )", "u.js", &at(1, 7));
        assert_eq!(caret_offset(&drawn), 5);
        // Control characters take one cell.
        let drawn = render("a\u{1}b", "c.js", &at(1, 3));
        assert_eq!(drawn.lines().nth(2).unwrap(), "1 | a\u{fffd}b");
        assert_eq!(caret_offset(&drawn), 2);
    }

    #[test]
    fn out_of_range_columns_and_lines() {
        // Past the end of the line: just after its last character.
        let drawn = render("abc\ndef", "f.js", &at(1, 50));
        assert_eq!(caret_offset(&drawn), 3);
        // Column 0 is read as the first column.
        assert_eq!(caret_offset(&render("abc", "f.js", &at(1, 0))), 0);
        // An empty line.
        assert_eq!(caret_offset(&render("\n", "f.js", &at(1, 1))), 0);
        // Lines the file does not have: the location alone.
        assert_eq!(render("abc", "f.js", &at(2, 1)), " --> f.js:2:1\n");
        assert_eq!(render("abc", "f.js", &at(0, 1)), " --> f.js:0:1\n");
        assert_eq!(render("", "f.js", &at(7, 1)), " --> f.js:7:1\n");
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}){}", "a".repeat(300), "b".repeat(300));
        let drawn = render(&line, "l.js", &at(1, 301));
        let code = drawn.lines().nth(2).unwrap().strip_prefix("1 | ").unwrap();
        assert!(code.starts_with("...a") && code.ends_with("b..."), "{code}");
        assert_eq!(code.len(), MAX_WIDTH + 2 * ELLIPSIS.len());
        assert_eq!(&code[caret_offset(&drawn)..][..1], ")");
        // Near the start: no leading cut.
        let drawn = render(&line, "l.js", &at(1, 3));
        let code = drawn.lines().nth(2).unwrap().strip_prefix("1 | ").unwrap();
        assert!(code.starts_with("aaa") && code.ends_with("..."));
        assert_eq!(caret_offset(&drawn), 2);
        // At the very end: no trailing cut, the caret after the last cell.
        let drawn = render(&line, "l.js", &at(1, 10_000));
        let code = drawn.lines().nth(2).unwrap().strip_prefix("1 | ").unwrap();
        assert!(code.starts_with("...") && code.ends_with('b'));
        assert_eq!(caret_offset(&drawn), code.len());
    }

    impl<'a> Location<'a> {
        fn with_library(self, library: &'a str) -> Location<'a> {
            Location { library, ..self }
        }
    }
}
