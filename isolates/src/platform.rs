//! V8's process-wide setup: flags and the platform, once.

use std::sync::Once;

/// V8 flags Kiln runs with.
///
/// `--js-immutable-arraybuffer` lets `kiln.get` hand out read-only views of
/// records: a function cannot write through a view into a stored value.
const FLAGS: &str = "--js-immutable-arraybuffer";

/// Initialises V8 for this process. Cheap after the first call; every entry
/// point that creates an isolate calls it.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        v8::V8::set_flags_from_string(FLAGS);
        let platform = v8::new_default_platform(0, false).make_shared();
        v8::V8::initialize_platform(platform);
        v8::V8::initialize();
    });
}
