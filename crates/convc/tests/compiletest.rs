//! Every `conv!` error message, pinned by trybuild: each `ui/*.rs` must fail to
//! compile with exactly the `ui/*.stderr` next to it (regenerate with
//! `TRYBUILD=overwrite cargo test -p convc --test compiletest`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
