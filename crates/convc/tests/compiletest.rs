//! Every `conv!` error message, pinned by trybuild: each `ui/*.rs` must fail to
//! compile with exactly the `ui/*.stderr` next to it (regenerate with
//! `TRYBUILD=overwrite cargo test -p convc --test compiletest`). And every form of
//! `conv!` used from a crate outside the workspace: trybuild builds each
//! `pass/*.rs` as a crate of its own with `convc` as a path dependency, and runs it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
