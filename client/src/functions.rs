//! Types of the storage-function API ([`Client::function_list`],
//! [`Client::function_restore`]) and the parsing of `FUNCTION LIST`.
//!
//! `FUNCTION LIST` answers with maps in RESP3 and with flat
//! `[field, value, ...]` arrays in RESP2; both parse to the same
//! [`LibraryInfo`]. Fields this client does not know are skipped, so a newer
//! server can add some.

use kiln_net::Reply;

#[cfg(doc)]
use crate::Client;
use crate::Error;

/// One library, as `FUNCTION LIST` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LibraryInfo {
    /// The name from its `#!js name=...` line.
    pub name: String,
    /// The engine that runs it (`"JS"` on Kiln).
    pub engine: String,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionInfo>,
    /// Its source text, when listed `WITHCODE`.
    pub code: Option<String>,
}

/// One function of a [`LibraryInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionInfo {
    /// The name `FCALL` calls it by.
    pub name: String,
    /// The `description` given when it was registered.
    pub description: Option<String>,
    /// Its flags (`"no-writes"`, `"allow-oom"`...).
    pub flags: Vec<String>,
}

/// What `FUNCTION RESTORE` does with the libraries already loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FunctionRestorePolicy {
    /// `APPEND`: add the payload's libraries; fail if a name is taken.
    #[default]
    Append,
    /// `REPLACE`: add them, replacing libraries of the same name.
    Replace,
    /// `FLUSH`: delete every library first.
    Flush,
}

impl FunctionRestorePolicy {
    /// The policy's argument word.
    pub fn word(self) -> &'static str {
        match self {
            FunctionRestorePolicy::Append => "APPEND",
            FunctionRestorePolicy::Replace => "REPLACE",
            FunctionRestorePolicy::Flush => "FLUSH",
        }
    }
}

fn unexpected(what: &str, reply: &Reply) -> Error {
    let mut shown = format!("{reply:?}");
    shown.truncate(200);
    Error::UnexpectedReply(format!("FUNCTION LIST: expected {what}, got {shown}"))
}

/// A bulk or status reply as text.
fn text(reply: Reply) -> Result<String, Error> {
    match reply {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Reply::Status(s) => Ok(s.into_owned()),
        other => Err(unexpected("a string", &other)),
    }
}

fn opt_text(reply: Reply) -> Result<Option<String>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(None),
        other => text(other).map(Some),
    }
}

fn list(reply: Reply) -> Result<Vec<Reply>, Error> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => Ok(items),
        other => Err(unexpected("an array", &other)),
    }
}

/// A map reply (RESP3) or a flat `[field, value, ...]` array (RESP2) as
/// `(field, value)` pairs.
fn fields(reply: Reply) -> Result<Vec<(String, Reply)>, Error> {
    let pairs = match reply {
        Reply::Map(pairs) => pairs,
        Reply::Array(items) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
        }
        other => return Err(unexpected("a map", &other)),
    };
    pairs
        .into_iter()
        .map(|(field, value)| Ok((text(field)?, value)))
        .collect()
}

impl FunctionInfo {
    fn from_reply(reply: Reply) -> Result<FunctionInfo, Error> {
        let mut info = FunctionInfo::default();
        for (field, value) in fields(reply)? {
            match field.as_str() {
                "name" => info.name = text(value)?,
                "description" => info.description = opt_text(value)?,
                "flags" => {
                    info.flags = list(value)?
                        .into_iter()
                        .map(text)
                        .collect::<Result<_, _>>()?
                }
                _ => {}
            }
        }
        Ok(info)
    }
}

impl LibraryInfo {
    fn from_reply(reply: Reply) -> Result<LibraryInfo, Error> {
        let mut info = LibraryInfo::default();
        for (field, value) in fields(reply)? {
            match field.as_str() {
                "library_name" => info.name = text(value)?,
                "engine" => info.engine = text(value)?,
                "functions" => {
                    info.functions = list(value)?
                        .into_iter()
                        .map(FunctionInfo::from_reply)
                        .collect::<Result<_, _>>()?;
                }
                "library_code" => info.code = opt_text(value)?,
                _ => {}
            }
        }
        Ok(info)
    }

    /// Parses a whole `FUNCTION LIST` reply.
    pub(crate) fn list_from_reply(reply: Reply) -> Result<Vec<LibraryInfo>, Error> {
        list(reply)?
            .into_iter()
            .map(LibraryInfo::from_reply)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn expected() -> Vec<LibraryInfo> {
        vec![LibraryInfo {
            name: "counter".into(),
            engine: "JS".into(),
            functions: vec![
                FunctionInfo {
                    name: "hit".into(),
                    description: None,
                    flags: vec![],
                },
                FunctionInfo {
                    name: "count".into(),
                    description: Some("The count".into()),
                    flags: vec!["no-writes".into()],
                },
            ],
            code: Some("#!js name=counter\n".into()),
        }]
    }

    #[test]
    fn parses_resp3_maps() {
        let function = |name, description: Reply, flags: Vec<Reply>| {
            Reply::Map(vec![
                (bulk("name"), bulk(name)),
                (bulk("description"), description),
                (bulk("flags"), Reply::Set(flags)),
            ])
        };
        let reply = Reply::Array(vec![Reply::Map(vec![
            (bulk("library_name"), bulk("counter")),
            (bulk("engine"), bulk("JS")),
            (
                bulk("functions"),
                Reply::Array(vec![
                    function("hit", Reply::Nil, vec![]),
                    function("count", bulk("The count"), vec![bulk("no-writes")]),
                ]),
            ),
            (bulk("library_code"), bulk("#!js name=counter\n")),
            (bulk("a_future_field"), Reply::Integer(1)),
        ])]);
        assert_eq!(LibraryInfo::list_from_reply(reply).unwrap(), expected());
    }

    #[test]
    fn parses_resp2_flat_arrays() {
        let function = |name, description: Reply, flags: Vec<Reply>| {
            Reply::Array(vec![
                bulk("name"),
                bulk(name),
                bulk("description"),
                description,
                bulk("flags"),
                Reply::Array(flags),
            ])
        };
        let reply = Reply::Array(vec![Reply::Array(vec![
            bulk("library_name"),
            bulk("counter"),
            bulk("engine"),
            bulk("JS"),
            bulk("functions"),
            Reply::Array(vec![
                function("hit", Reply::Nil, vec![]),
                function("count", bulk("The count"), vec![bulk("no-writes")]),
            ]),
            bulk("library_code"),
            bulk("#!js name=counter\n"),
        ])]);
        assert_eq!(LibraryInfo::list_from_reply(reply).unwrap(), expected());
        assert_eq!(
            LibraryInfo::list_from_reply(Reply::Array(vec![])).unwrap(),
            vec![]
        );
    }

    #[test]
    fn rejects_other_shapes() {
        let odd = Reply::Array(vec![Reply::Array(vec![bulk("library_name")])]);
        assert!(matches!(
            LibraryInfo::list_from_reply(odd),
            Err(Error::UnexpectedReply(_))
        ));
        assert!(LibraryInfo::list_from_reply(Reply::Integer(3)).is_err());
        let bad_name = Reply::Array(vec![Reply::Map(vec![(
            bulk("library_name"),
            Reply::Integer(1),
        )])]);
        assert!(LibraryInfo::list_from_reply(bad_name).is_err());
    }
}
