//! Values across the boundary: JavaScript results to RESP replies (as Redis
//! converts Lua's), RESP replies of `kiln.call` to JavaScript, and keys and
//! arguments from JavaScript to bytes.
//!
//! Every value here comes from tenant code and is hostile: an array's
//! `length` says nothing about its memory (`a.length = 2**32 - 1` is one
//! store), a getter or Proxy trap runs tenant code, and a string may be a
//! rope of a GiB. So nothing is pre-sized from a JavaScript length, sizes are
//! checked before bytes are copied, every loop stops as soon as execution is
//! terminating, and thrown values are turned into text without calling any
//! tenant code (`toString`, getters).

use std::borrow::Cow;

use bytes::Bytes;
use kiln_net::Reply;

use crate::limits::show_size;

/// Deepest nesting of arrays and objects a function may return (a cyclic
/// structure would otherwise recurse forever).
const MAX_DEPTH: usize = 64;

/// Most elements (scalars and containers) in one reply, whatever the byte
/// cap allows.
const MAX_REPLY_ELEMENTS: usize = 1 << 24;

/// Longest error text taken from a thrown value, in UTF-8 bytes.
const MAX_MESSAGE_BYTES: usize = 4096;

/// BigInts longer than this many 64-bit words are not turned into decimal
/// text: V8 does that in C++ without checking for termination.
const MAX_BIGINT_WORDS: usize = 1024;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Why a conversion stopped.
enum ConvertStop {
    /// The whole reply becomes this error.
    Error(Cow<'static, str>),
    /// JavaScript threw (a getter, a Proxy trap) or execution is
    /// terminating: the exception is pending in the caller's `TryCatch`.
    Exception,
}

/// What is left of one reply's caps.
struct ReplyBudget {
    bytes: usize,
    elements: usize,
    cap: usize,
}

impl ReplyBudget {
    /// Counts one reply node carrying `payload` bytes.
    fn take(&mut self, payload: usize) -> Result<(), ConvertStop> {
        let cost = payload.saturating_add(size_of::<Reply>());
        if cost > self.bytes {
            return Err(self.exceeded());
        }
        if self.elements == 0 {
            return Err(ConvertStop::Error(Cow::Owned(format!(
                "ERR Function reply has more than {MAX_REPLY_ELEMENTS} elements"
            ))));
        }
        self.bytes -= cost;
        self.elements -= 1;
        Ok(())
    }

    /// Whether a payload of at least `len` bytes would still fit.
    fn fits(&self, len: usize) -> bool {
        len.saturating_add(size_of::<Reply>()) <= self.bytes
    }

    fn exceeded(&self) -> ConvertStop {
        ConvertStop::Error(Cow::Owned(format!(
            "ERR Function reply exceeds the {} reply limit",
            show_size(self.cap)
        )))
    }
}

/// The reply for a function's return value, of at most `cap_bytes`
/// (counting each element as at least `size_of::<Reply>()`). `None` when
/// JavaScript threw while it was read (a getter) or execution is
/// terminating; the exception is then pending in the caller's `TryCatch`.
pub fn to_reply(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    cap_bytes: usize,
) -> Option<Reply> {
    let mut budget = ReplyBudget {
        bytes: cap_bytes,
        elements: MAX_REPLY_ELEMENTS,
        cap: cap_bytes,
    };
    match to_reply_at(scope, value, 0, &mut budget) {
        Ok(reply) => Some(reply),
        Err(ConvertStop::Error(message)) => Some(Reply::error_owned(message.into_owned())),
        Err(ConvertStop::Exception) => None,
    }
}

/// A value's reply; `Err` for a value with no reply form anywhere inside it.
fn to_reply_at(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    depth: usize,
    budget: &mut ReplyBudget,
) -> Result<Reply, ConvertStop> {
    if depth > MAX_DEPTH {
        return Err(ConvertStop::Error(Cow::Borrowed(
            "ERR reply nesting is deeper than 64 levels",
        )));
    }
    if scope.is_execution_terminating() {
        return Err(ConvertStop::Exception);
    }
    match scalar_reply(scope, value, budget)? {
        Some(reply) => Ok(reply),
        None => compound_reply(scope, value, depth, budget),
    }
}

/// The reply for a value that is not a container, if it is one.
fn scalar_reply(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    budget: &mut ReplyBudget,
) -> Result<Option<Reply>, ConvertStop> {
    let reply = if value.is_null_or_undefined() || value.is_false() {
        budget.take(0)?;
        Reply::Nil
    } else if value.is_true() {
        budget.take(0)?;
        Reply::Integer(1)
    } else if value.is_string() {
        let string: v8::Local<v8::String> = value.cast();
        // A string holds at least one UTF-8 byte per UTF-16 unit: refuse a
        // long one before V8 flattens it to count its bytes.
        let units = string.length();
        if !budget.fits(units) {
            return Err(budget.exceeded());
        }
        // Counted before the copy only when it could be over (a UTF-16
        // unit is at most three UTF-8 bytes).
        if !budget.fits(units.saturating_mul(3)) {
            budget.take(string.utf8_length(scope))?;
            Reply::Bulk(string_bytes(scope, string).into())
        } else {
            let bytes = string_bytes(scope, string);
            budget.take(bytes.len())?;
            Reply::Bulk(bytes.into())
        }
    } else if value.is_number() {
        budget.take(0)?;
        number_reply(value.number_value(scope).unwrap_or(f64::NAN))
    } else if value.is_big_int() {
        budget.take(0)?;
        match value.cast::<v8::BigInt>().i64_value() {
            (n, true) => Reply::Integer(n),
            _ => Reply::error("ERR BigInt result does not fit in a 64-bit integer"),
        }
    } else if value.is_array_buffer_view() {
        let view: v8::Local<v8::ArrayBufferView> = value.cast();
        budget.take(view.byte_length())?;
        Reply::Bulk(Bytes::copy_from_slice(view_bytes(&view)))
    } else if value.is_array_buffer() {
        let buffer: v8::Local<v8::ArrayBuffer> = value.cast();
        budget.take(buffer.byte_length())?;
        Reply::Bulk(Bytes::copy_from_slice(buffer_bytes(&buffer)))
    } else if value.is_native_error() {
        let message = error_message(scope, value);
        budget.take(message.len())?;
        error_reply(&message)
    } else {
        return Ok(None);
    };
    Ok(Some(reply))
}

/// The reply for an array, map or plain object.
fn compound_reply(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    depth: usize,
    budget: &mut ReplyBudget,
) -> Result<Reply, ConvertStop> {
    if value.is_array() {
        budget.take(0)?;
        let array: v8::Local<v8::Array> = value.cast();
        return array_items(scope, array, 0, array.length(), depth, budget).map(Reply::Array);
    }
    if value.is_map() {
        budget.take(0)?;
        let flat = value.cast::<v8::Map>().as_array(scope);
        let mut pairs = Vec::new();
        for i in 0..flat.length() / 2 {
            let mut pair = array_items(scope, flat, 2 * i, 2 * i + 2, depth, budget)?;
            let (Some(v), Some(k)) = (pair.pop(), pair.pop()) else {
                return Err(ConvertStop::Exception);
            };
            pairs.push((k, v));
        }
        return Ok(Reply::Map(pairs));
    }
    if value.is_function() || value.is_symbol() || !value.is_object() {
        return Err(ConvertStop::Error(Cow::Borrowed(
            "ERR a function returned a value that has no reply form (function or symbol)",
        )));
    }
    budget.take(0)?;
    object_reply(scope, value.cast(), depth, budget)
}

/// The replies of `array[from..to]`, read one element at a time (a length
/// says nothing about how many elements exist: holes read as `undefined`
/// and count against the budget like any element).
fn array_items(
    scope: &mut v8::PinScope<'_, '_>,
    array: v8::Local<'_, v8::Array>,
    from: u32,
    to: u32,
    depth: usize,
    budget: &mut ReplyBudget,
) -> Result<Vec<Reply>, ConvertStop> {
    let mut items = Vec::new();
    for i in from..to {
        // Each element's handles die with its own scope: a long array must
        // not pile up millions of them in the caller's.
        v8::scope!(let scope, scope);
        if scope.is_execution_terminating() {
            return Err(ConvertStop::Exception);
        }
        let Some(item) = array.get_index(scope, i) else {
            return Err(ConvertStop::Exception);
        };
        items.push(to_reply_at(scope, item, depth + 1, budget)?);
    }
    Ok(items)
}

/// A plain object's own enumerable string-keyed properties, as a map (RESP3)
/// or flat array (RESP2).
fn object_reply(
    scope: &mut v8::PinScope<'_, '_>,
    object: v8::Local<'_, v8::Object>,
    depth: usize,
    budget: &mut ReplyBudget,
) -> Result<Reply, ConvertStop> {
    let Some(names) = object.get_own_property_names(scope, Default::default()) else {
        return Err(ConvertStop::Exception);
    };
    let mut pairs = Vec::new();
    for i in 0..names.length() {
        v8::scope!(let scope, scope);
        if scope.is_execution_terminating() {
            return Err(ConvertStop::Exception);
        }
        let Some(name) = names.get_index(scope, i) else {
            return Err(ConvertStop::Exception);
        };
        // Names come back as strings or index numbers; a Proxy's `ownKeys`
        // cannot smuggle in an object whose `toString` would run here.
        let key = if name.is_string() {
            name.cast::<v8::String>()
        } else if name.is_number() {
            match name.to_string(scope) {
                Some(text) => text,
                None => return Err(ConvertStop::Exception),
            }
        } else {
            continue;
        };
        let Some(value) = object.get(scope, key.into()) else {
            return Err(ConvertStop::Exception);
        };
        let key = to_reply_at(scope, key.into(), depth + 1, budget)?;
        pairs.push((key, to_reply_at(scope, value, depth + 1, budget)?));
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

/// The message of a thrown value, without running any of its code: a
/// string as itself, an `Error`'s `message` data property, anything else
/// as V8's side-effect-free description (`#<Object>`, `Symbol(x)`...).
/// At most [`MAX_MESSAGE_BYTES`].
pub fn error_message(scope: &mut v8::PinScope<'_, '_>, thrown: v8::Local<'_, v8::Value>) -> String {
    if thrown.is_native_error() {
        let object = v8::Local::new(scope, thrown.cast::<v8::Object>());
        if let Some(message) = data_property(scope, object, "message")
            && message.is_string()
        {
            return bounded_text(scope, message.cast());
        }
    }
    describe_value(scope, thrown)
}

/// A value as text without running its code: a string as itself, anything
/// else as V8's `NoSideEffectsToString` (an `Error` as `Name: message`,
/// read from data properties only). At most [`MAX_MESSAGE_BYTES`].
pub fn describe_value(scope: &mut v8::PinScope<'_, '_>, value: v8::Local<'_, v8::Value>) -> String {
    let text = if value.is_string() {
        Some(value.cast::<v8::String>())
    } else {
        value.to_detail_string(scope)
    };
    match text {
        Some(text) => bounded_text(scope, text),
        None => "unknown error".to_owned(),
    }
}

/// `key` as found on `object` or its prototypes as a data property,
/// without calling getters or Proxy traps (`None` where one would run, or
/// when absent), like V8's internal `GetDataProperty`.
fn data_property<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    object: v8::Local<'s, v8::Object>,
    key: &str,
) -> Option<v8::Local<'s, v8::Value>> {
    let key: v8::Local<v8::Name> = v8_string(scope, key.as_bytes()).into();
    let value_key: v8::Local<v8::Name> = v8_string(scope, b"value").into();
    let mut current = object;
    // Prototype chains are short; a bound keeps a hostile one from mattering.
    for _ in 0..32 {
        if current.is_proxy() {
            return None;
        }
        let descriptor = current.get_own_property_descriptor(scope, key)?;
        if descriptor.is_object() {
            // A fresh ordinary object V8 made: `value` is its own data
            // property for a data descriptor and absent for an accessor
            // (then a lookup would reach Object.prototype, so do not look).
            let descriptor: v8::Local<v8::Object> = descriptor.cast();
            if !descriptor.has_own_property(scope, value_key)? {
                return None;
            }
            return descriptor.get(scope, value_key.into());
        }
        let prototype = current.get_prototype(scope)?;
        if !prototype.is_object() {
            return None;
        }
        current = prototype.cast();
    }
    None
}

/// At most [`MAX_MESSAGE_BYTES`] of a string, as UTF-8, `...` marking a cut.
fn bounded_text(scope: &mut v8::PinScope<'_, '_>, text: v8::Local<'_, v8::String>) -> String {
    let mut buffer = vec![0u8; MAX_MESSAGE_BYTES];
    let mut read = 0;
    let written = text.write_utf8_v2(
        scope,
        &mut buffer,
        v8::WriteFlags::kReplaceInvalidUtf8,
        Some(&mut read),
    );
    buffer.truncate(written);
    let mut text_out = String::from_utf8(buffer)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if read < text.length() {
        text_out.push_str("...");
    }
    text_out
}

/// A JavaScript value for a command's reply inside a function (what
/// `kiln.call` returns). Error replies are returned as `Err` to be thrown.
/// The reply comes from the host, so its size is the store's, not the
/// tenant's.
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
        Reply::Map(pairs) | Reply::KeyedArrays(pairs) => {
            let object = v8::Object::new(scope);
            for (k, v) in pairs {
                let key = from_reply(scope, k)?;
                let value = from_reply(scope, v)?;
                // Define, not assign: a setter on Object.prototype (or a
                // `__proto__` field) must not see the reply.
                let key: v8::Local<v8::Name> = if key.is_name() {
                    key.cast()
                } else {
                    match key.to_string(scope) {
                        Some(key) => key.into(),
                        None => continue,
                    }
                };
                object.create_data_property(scope, key, value);
            }
            object.into()
        }
        // As RESP3 shapes them: an array of [first, second] arrays.
        Reply::Pairs(pairs) => {
            let mut values = Vec::with_capacity(pairs.len());
            for (a, b) in pairs {
                let pair = [from_reply(scope, a)?, from_reply(scope, b)?];
                values.push(v8::Array::new_with_elements(scope, &pair).into());
            }
            v8::Array::new_with_elements(scope, &values).into()
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

/// A string's UTF-8 bytes. Callers bound its size first
/// ([`v8::String::length`], then [`v8::String::utf8_length`]).
pub fn string_bytes(
    scope: &mut v8::PinScope<'_, '_>,
    string: v8::Local<'_, v8::String>,
) -> Vec<u8> {
    let mut text = String::new();
    string.write_utf8_into(scope, &mut text);
    text.into_bytes()
}

/// Why a value gave no bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesError {
    /// An object with no byte form.
    NotBytes,
    /// More than the cap: refused before it was copied.
    TooLong,
}

/// The bytes a key, argument or value names: a string as UTF-8, a typed
/// array or `ArrayBuffer` as its bytes, a number or other primitive as its
/// string form; at most `cap` bytes, measured before anything is copied.
pub fn value_bytes(
    scope: &mut v8::PinScope<'_, '_>,
    value: v8::Local<'_, v8::Value>,
    cap: usize,
) -> Result<Vec<u8>, BytesError> {
    if value.is_string() {
        let string: v8::Local<v8::String> = value.cast();
        // A UTF-16 unit is one to three UTF-8 bytes: a longer string is
        // refused before V8 flattens it to count its bytes, and only one
        // near the cap is counted.
        let units = string.length();
        if units > cap || (units.saturating_mul(3) > cap && string.utf8_length(scope) > cap) {
            return Err(BytesError::TooLong);
        }
        return Ok(string_bytes(scope, string));
    }
    if value.is_array_buffer_view() {
        let view: v8::Local<v8::ArrayBufferView> = value.cast();
        if view.byte_length() > cap {
            return Err(BytesError::TooLong);
        }
        return Ok(view_bytes(&view).to_vec());
    }
    if value.is_array_buffer() {
        let buffer: v8::Local<v8::ArrayBuffer> = value.cast();
        if buffer.byte_length() > cap {
            return Err(BytesError::TooLong);
        }
        return Ok(buffer_bytes(&buffer).to_vec());
    }
    if value.is_big_int() && value.cast::<v8::BigInt>().word_count() > MAX_BIGINT_WORDS {
        return Err(BytesError::TooLong);
    }
    if value.is_number() || value.is_big_int() || value.is_boolean() {
        let text = value.to_string(scope).ok_or(BytesError::NotBytes)?;
        if text.length() > cap {
            return Err(BytesError::TooLong);
        }
        return Ok(string_bytes(scope, text));
    }
    Err(BytesError::NotBytes)
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
