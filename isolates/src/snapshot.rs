//! The startup snapshot: a heap image with the `kiln` API scaffolding
//! (`js/bootstrap.js`) already run, so a new tenant context deserializes it
//! instead of executing setup code.
//!
//! Built once per process on first use; the native bindings are not in it
//! (they are attached per context by [`crate::api`]), so it needs no external
//! references.

use std::sync::OnceLock;

/// The scaffolding script.
const BOOTSTRAP: &str = include_str!("../js/bootstrap.js");

/// The snapshot blob, built on first use.
pub fn blob() -> &'static [u8] {
    static BLOB: OnceLock<Box<[u8]>> = OnceLock::new();
    BLOB.get_or_init(build)
}

fn build() -> Box<[u8]> {
    crate::platform::init();
    let mut creator = v8::Isolate::snapshot_creator(None, None);
    {
        v8::scope!(let scope, &mut creator);
        let context = v8::Context::new(scope, Default::default());
        let scope = &mut v8::ContextScope::new(scope, context);
        let source =
            v8::String::new(scope, BOOTSTRAP).expect("bootstrap source fits in a V8 string");
        let script = v8::Script::compile(scope, source, None).expect("bootstrap.js compiles");
        script.run(scope).expect("bootstrap.js runs");
        scope.set_default_context(context);
    }
    let blob = creator
        .create_blob(v8::FunctionCodeHandling::Keep)
        .expect("V8 creates the startup snapshot");
    Box::from(&*blob)
}
