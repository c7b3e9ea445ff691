//! TLS for the HTTP clients (nodes over `https://`, facilitators): rustls with
//! the `ring` provider, installed once per process.

use std::sync::Once;

/// Installs rustls's `ring` provider as the process default (once; a
/// provider installed earlier by the host is kept).
pub(crate) fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // ring: no C toolchain beyond the one SQLite needs. Newer rustls
        // marks it deprecated for want of post-quantum key exchange, which
        // connections to the operator's own RPC endpoints can do without.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
    });
}
