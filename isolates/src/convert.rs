//! Values across the boundary: JavaScript results to RESP replies (as Redis
//! converts Lua's), RESP replies of `kiln.call` to JavaScript, and keys and
//! arguments from JavaScript to bytes.

use bytes::Bytes;
use kiln_net::Reply;

/// Deepest nesting of arrays and objects a function may return (a cyclic
/// structure would otherwise recurse forever).
const MAX_DEPTH: usize = 64;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The reply for a function's return value.
pub fn to_reply(scope: &mut v8::PinScope<'_, '_>, value: v8::Local<'_, v8::Value>) -> Reply {
    to_reply_at(scope, value, 0).unwrap_or_else(Reply::error)
}

/// A value's reply; `Err` for a value with no reply form anywhere inside it.
fn to_reply_at(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    depth: usize,
) -> Result<Reply, &'static str> {
    if depth > MAX_DEPTH {
        return Err("ERR reply nesting is deeper than 64 levels");
    }
    match scalar_reply(scope, value) {
        Some(reply) => Ok(reply),
        None => compound_reply(scope, value, depth),
    }
}

/// The reply for a value that is not a container, if it is one.
fn scalar_reply(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
) -> Option<Reply> {
    let reply = if value.is_null_or_undefined() || value.is_false() {
        Reply::Nil
    } else if value.is_true() {
        Reply::Integer(1)
    } else if value.is_string() {
        Reply::Bulk(string_bytes(scope, value.cast()).into())
    } else if value.is_number() {
        number_reply(value.number_value(scope).unwrap_or(f64::NAN))
    } else if value.is_big_int() {
        match value.cast::<v8::BigInt>().i64_value() {
            (n, true) => Reply::Integer(n),
            _ => Reply::error("ERR BigInt result does not fit in a 64-bit integer"),
        }
    } else if value.is_array_buffer_view() {
        Reply::Bulk(Bytes::copy_from_slice(view_bytes(
            &value.cast::<v8::ArrayBufferView>(),
        )))
    } else if value.is_array_buffer() {
        Reply::Bulk(Bytes::copy_from_slice(buffer_bytes(
            &value.cast::<v8::ArrayBuffer>(),
        )))
    } else if value.is_native_error() {
        error_reply(&error_message(scope, value))
    } else {
        return None;
    };
    Some(reply)
}

/// The reply for an array, map or plain object.
fn compound_reply(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    depth: usize,
) -> Result<Reply, &'static str> {
    if value.is_array() {
        let array: v8::Local<v8::Array> = value.cast();
        let mut items = Vec::with_capacity(array.length() as usize);
        for i in 0..array.length() {
            let item = array
                .get_index(scope, i)
                .unwrap_or_else(|| v8::undefined(scope).into());
            items.push(to_reply_at(scope, item, depth + 1)?);
        }
        return Ok(Reply::Array(items));
    }
    if value.is_map() {
        let flat = value.cast::<v8::Map>().as_array(scope);
        let mut pairs = Vec::with_capacity(flat.length() as usize / 2);
        for i in 0..flat.length() / 2 {
            let k = flat
                .get_index(scope, 2 * i)
                .unwrap_or_else(|| v8::undefined(scope).into());
            let v = flat
                .get_index(scope, 2 * i + 1)
                .unwrap_or_else(|| v8::undefined(scope).into());
            pairs.push((
                to_reply_at(scope, k, depth + 1)?,
                to_reply_at(scope, v, depth + 1)?,
            ));
        }
        return Ok(Reply::Map(pairs));
    }
    if value.is_function() || value.is_symbol() || !value.is_object() {
        return Err("ERR a function returned a value that has no reply form (function or symbol)");
    }
    object_reply(scope, value.cast(), depth)
}

/// A plain object's own enumerable string-keyed properties, as a map (RESP3)
/// or flat array (RESP2).
fn object_reply(
    scope: &mut v8::PinScope<'_, '_>,
    object: v8::Local<'_, v8::Object>,
    depth: usize,
) -> Result<Reply, &'static str> {
    let Some(names) = object.get_own_property_names(scope, Default::default()) else {
        return Err("ERR could not read the returned object's properties");
    };
    let mut pairs = Vec::with_capacity(names.length() as usize);
    for i in 0..names.length() {
        let Some(name) = names.get_index(scope, i) else {
            continue;
        };
        let value = object
            .get(scope, name)
            .unwrap_or_else(|| v8::undefined(scope).into());
        let name = name
            .to_string(scope)
            .unwrap_or_else(|| v8::String::empty(scope));
        let key = Reply::Bulk(string_bytes(scope, name).into());
        pairs.push((key, to_reply_at(scope, value, depth + 1)?));
    }
    Ok(Reply::Map(pairs))
}

/// An integral number within the exact range → integer, anything else →
/// double (a bulk string in RESP2).
fn number_reply(n: f64) -> Reply {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        Reply::Integer(n as i64)
    } else {
        Reply::Double(n)
    }
}

/// The reply for an error message: a message that starts with an upper-case
/// word keeps it as the error code (`WRONGTYPE ...`), any other gets `ERR`.
pub fn error_reply(message: &str) -> Reply {
    let code_len = message.find(' ').unwrap_or(message.len());
    let code = &message[..code_len];
    let has_code = !code.is_empty()
        && code.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    let message = message.replace(['\r', '\n'], " ");
    if has_code {
        Reply::error_owned(message)
    } else {
        Reply::error_owned(format!("ERR {message}"))
    }
}

/// The message of a thrown value: an `Error`'s `message`, or the value as a
/// string.
pub fn error_message(scope: &mut v8::PinScope<'_, '_>, thrown: v8::Local<'_, v8::Value>) -> String {
    if thrown.is_native_error() {
        let object: v8::Local<v8::Object> = thrown.cast();
        let key = v8::String::new(scope, "message").expect("short string");
        if let Some(message) = object.get(scope, key.into())
            && message.is_string()
        {
            return message.to_rust_string_lossy(scope);
        }
    }
    thrown.to_rust_string_lossy(scope)
}

/// A JavaScript value for a command's reply inside a function (what
/// `kiln.call` returns). Error replies are returned as `Err` to be thrown.
pub fn from_reply<'s>(
    scope: &v8::PinScope<'s, '_>,
    reply: &Reply,
) -> Result<v8::Local<'s, v8::Value>, String> {
    Ok(match reply {
        Reply::Error(message) => return Err(message.to_string()),
        Reply::Status(text) => v8_string(scope, text.as_bytes()).into(),
        Reply::Integer(n) => integer(scope, *n),
        Reply::Bulk(bytes) | Reply::Verbatim(_, bytes) => v8_string(scope, bytes).into(),
        Reply::Nil | Reply::NilArray => v8::null(scope).into(),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            let values = items
                .iter()
                .map(|item| from_reply(scope, item))
                .collect::<Result<Vec<_>, _>>()?;
            v8::Array::new_with_elements(scope, &values).into()
        }
        Reply::Map(pairs) => {
            let object = v8::Object::new(scope);
            for (k, v) in pairs {
                let key = from_reply(scope, k)?;
                let value = from_reply(scope, v)?;
                object.set(scope, key, value);
            }
            object.into()
        }
        Reply::Double(d) => v8::Number::new(scope, *d).into(),
        Reply::Boolean(b) => v8::Boolean::new(scope, *b).into(),
        Reply::BigNumber(text) => v8_string(scope, text.as_bytes()).into(),
    })
}

/// A number, or a BigInt beyond the exactly representable range.
pub fn integer<'s>(scope: &v8::PinScope<'s, '_>, n: i64) -> v8::Local<'s, v8::Value> {
    if (n as f64).abs() <= MAX_SAFE_INTEGER {
        v8::Number::new(scope, n as f64).into()
    } else {
        v8::BigInt::new_from_i64(scope, n).into()
    }
}

/// A JavaScript string from bytes, decoded as UTF-8 (invalid sequences
/// become U+FFFD; `kiln.rawKeys()`, `kiln.rawArgs()` and `kiln.get` are the
/// binary-safe paths).
pub fn v8_string<'s>(scope: &v8::PinScope<'s, '_>, bytes: &[u8]) -> v8::Local<'s, v8::String> {
    v8::String::new_from_utf8(scope, bytes, v8::NewStringType::Normal)
        .unwrap_or_else(|| v8::String::empty(scope))
}

/// A string's UTF-8 bytes.
pub fn string_bytes(
    scope: &mut v8::PinScope<'_, '_>,
    string: v8::Local<'_, v8::String>,
) -> Vec<u8> {
    let mut text = String::new();
    string.write_utf8_into(scope, &mut text);
    text.into_bytes()
}

/// The bytes a key, argument or value names: a string as UTF-8, a typed
/// array or `ArrayBuffer` as its bytes, a number or other primitive as its
/// string form. `None` for objects that have no byte form.
pub fn value_bytes(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
) -> Option<Vec<u8>> {
    if value.is_string() {
        return Some(string_bytes(scope, value.cast()));
    }
    if value.is_array_buffer_view() {
        return Some(view_bytes(&value.cast::<v8::ArrayBufferView>()).to_vec());
    }
    if value.is_array_buffer() {
        return Some(buffer_bytes(&value.cast::<v8::ArrayBuffer>()).to_vec());
    }
    if value.is_number() || value.is_big_int() || value.is_boolean() {
        let text = value.to_string(scope)?;
        return Some(string_bytes(scope, text));
    }
    None
}

/// The bytes a typed array or `DataView` covers.
fn view_bytes<'a>(view: &'a v8::Local<'_, v8::ArrayBufferView>) -> &'a [u8] {
    let data = view.data();
    if data.is_null() || view.byte_length() == 0 {
        return &[];
    }
    // SAFETY: `data()` points at `byte_length()` live bytes of the view's
    // buffer, which the handle keeps alive while the slice is used; no
    // JavaScript runs while the slice is borrowed.
    unsafe { std::slice::from_raw_parts(data.cast::<u8>(), view.byte_length()) }
}

/// The bytes of an `ArrayBuffer`.
fn buffer_bytes<'a>(buffer: &'a v8::Local<'_, v8::ArrayBuffer>) -> &'a [u8] {
    let Some(data) = buffer.data().filter(|_| buffer.byte_length() > 0) else {
        return &[];
    };
    // SAFETY: as for `view_bytes`.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), buffer.byte_length()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_kept_only_for_upper_case_words() {
        assert_eq!(
            error_reply("WRONGTYPE Operation against a key"),
            Reply::error("WRONGTYPE Operation against a key")
        );
        assert_eq!(error_reply("boom"), Reply::error("ERR boom"));
        assert_eq!(error_reply("Error here"), Reply::error("ERR Error here"));
        assert_eq!(error_reply("OOM"), Reply::error("OOM"));
        assert_eq!(error_reply("NOT_FOUND1 x"), Reply::error("NOT_FOUND1 x"));
        assert_eq!(error_reply("a\r\nb"), Reply::error("ERR a  b"));
        assert_eq!(error_reply(""), Reply::error("ERR "));
    }

    #[test]
    fn numbers_become_integers_only_when_exact() {
        assert_eq!(number_reply(3.0), Reply::Integer(3));
        assert_eq!(number_reply(-0.0), Reply::Integer(0));
        assert_eq!(number_reply(1.5), Reply::Double(1.5));
        assert_eq!(number_reply(1e300), Reply::Double(1e300));
        assert!(matches!(number_reply(f64::NAN), Reply::Double(n) if n.is_nan()));
    }
}
