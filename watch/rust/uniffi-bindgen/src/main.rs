//! The in-repo, version-pinned uniffi bindgen (library mode).
fn main() {
    uniffi::uniffi_bindgen_main()
}
