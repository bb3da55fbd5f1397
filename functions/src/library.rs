//! The library format: a first line `#!js name=<lib> [api=1]`, then
//! JavaScript that registers functions.

use crate::error::FunctionError;

/// What the metadata line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The library's name.
    pub name: String,
}

/// Parses a library's metadata line, as Redis's `functionExtractLibMetaData`
/// does, for the `js` engine.
pub fn parse(code: &str) -> Result<Metadata, FunctionError> {
    let Some(rest) = code.strip_prefix("#!") else {
        return Err(FunctionError::MissingMetadata);
    };
    let line = rest.split(['\n', '\r']).next().unwrap_or("");
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    let mut name = None;
    for part in parts {
        if let Some(value) = part.strip_prefix("name=") {
            if name.replace(value).is_some() {
                return Err(FunctionError::DuplicateName);
            }
        } else if part != "api=1" {
            return Err(FunctionError::InvalidMetadata(part.to_owned()));
        }
    }
    let name = name.ok_or(FunctionError::NoName)?;
    if !engine.eq_ignore_ascii_case("js") {
        return Err(FunctionError::EngineNotFound(engine.to_owned()));
    }
    if !valid_name(name) {
        return Err(FunctionError::InvalidLibraryName);
    }
    Ok(Metadata {
        name: name.to_owned(),
    })
}

/// Letters, digits and underscores; at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses_like_redis() {
        assert_eq!(parse("#!js name=lib\ncode").unwrap().name, "lib");
        assert_eq!(parse("#!js api=1 name=my_lib2").unwrap().name, "my_lib2");
        assert_eq!(parse("#!JS  name=x  \r\n").unwrap().name, "x");
        assert_eq!(parse("js name=lib"), Err(FunctionError::MissingMetadata));
        assert_eq!(parse(""), Err(FunctionError::MissingMetadata));
        assert_eq!(
            parse("#!lua name=lib"),
            Err(FunctionError::EngineNotFound("lua".into()))
        );
        assert_eq!(parse("#!lua"), Err(FunctionError::NoName));
        assert_eq!(parse("#!js\n"), Err(FunctionError::NoName));
        assert_eq!(
            parse("#!js name=a name=b"),
            Err(FunctionError::DuplicateName)
        );
        assert_eq!(
            parse("#!js name=a foo=bar"),
            Err(FunctionError::InvalidMetadata("foo=bar".into()))
        );
        assert_eq!(
            parse("#!js name=a api=2"),
            Err(FunctionError::InvalidMetadata("api=2".into()))
        );
        assert_eq!(
            parse("#!js name=a-b"),
            Err(FunctionError::InvalidLibraryName)
        );
        assert_eq!(parse("#!js name="), Err(FunctionError::InvalidLibraryName));
    }

    #[test]
    fn error_replies_carry_the_err_code() {
        assert_eq!(
            FunctionError::LibraryExists("x".into()).reply(),
            kiln_net::Reply::error("ERR Library 'x' already exists")
        );
    }
}
