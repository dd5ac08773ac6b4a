//! What the transport tests share.

/// Runs the test function `$name(kind)` once per transport, as
/// `$name::direct` and `$name::hyper`.
#[macro_export]
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn direct() {
                super::$name(super::TransportKind::Direct).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn hyper() {
                super::$name(super::TransportKind::Hyper).await
            }
        }
    )*};
}
