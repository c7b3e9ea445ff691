//! TLS for the HTTP clients (nodes over `https://`, facilitators): rustls with
//! the `ring` provider, installed once per process.

use std::sync::Once;

/// Installs rustls's `ring` provider as the process default (once; a
/// provider installed earlier by the host is kept).
pub(crate) fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
