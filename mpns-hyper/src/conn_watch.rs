//! What the hyper transport needs to know of a failed request's connection
//! for the core's retry rule ([`mpns_proto::exchange::retry_on_fresh_connection`]):
//! whether it carried an answer before, and whether any byte of an answer
//! came after the request was written. hyper-util does not say, so each
//! connection is wrapped ([`Watched`]) and its [`Watch`] rides on hyper-util's
//! connection info, which both responses and errors carry.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use hyper::Uri;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One connection's history, shared with the responses and errors on it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Watch(Arc<WatchState>);

#[derive(Debug, Default)]
struct WatchState {
    answered: AtomicBool,
    read_since_write: AtomicBool,
}

impl Watch {
    /// The connection carried a whole answer: a failure on it later is on a
    /// reused connection.
    pub(crate) fn answered(&self) {
        self.0.answered.store(true, Ordering::Relaxed);
    }

    /// Whether a request that failed on this connection goes once more.
    pub(crate) fn retry_on_fresh_connection(&self) -> bool {
        mpns_proto::exchange::retry_on_fresh_connection(
            self.0.answered.load(Ordering::Relaxed),
            self.0.read_since_write.load(Ordering::Relaxed),
        )
    }

    /// The watch of the connection a hyper-util error happened on.
    pub(crate) fn of_error(e: &hyper_util::client::legacy::Error) -> Option<Watch> {
        let mut extensions = hyper::http::Extensions::new();
        e.connect_info()?.get_extras(&mut extensions);
        extensions.remove::<Watch>()
    }
}

/// A connection whose reads and writes are watched.
#[derive(Debug)]
pub(crate) struct Watched<T> {
    inner: T,
    watch: Watch,
}

/// Reads go through a buffer of this size (MPNS answers are a few hundred
/// bytes): the caller's cursor cannot tell afterwards how much was read.
const READ_CHUNK: usize = 1024;

impl<T: Read + Unpin> Read for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut chunk = [0u8; READ_CHUNK];
        let len = buf.remaining().min(READ_CHUNK);
        let mut read = ReadBuf::new(&mut chunk[..len]);
        let result = Pin::new(&mut this.inner).poll_read(cx, read.unfilled());
        if let Poll::Ready(Ok(())) = result {
            let filled = read.filled();
            if !filled.is_empty() {
                this.watch.0.read_since_write.store(true, Ordering::Relaxed);
            }
            buf.put_slice(filled);
        }
        result
    }
}

impl<T: Write + Unpin> Write for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // A request is written whole before its answer is read (no pipelining).
        this.watch
            .0
            .read_since_write
            .store(false, Ordering::Relaxed);
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<T: Connection> Connection for Watched<T> {
    fn connected(&self) -> Connected {
        self.inner.connected().extra(self.watch.clone())
    }
}

/// Wraps every connection `C` makes in a [`Watched`].
#[derive(Clone, Debug)]
pub(crate) struct Watching<C>(pub(crate) C);

impl<C> tower_service::Service<Uri> for Watching<C>
where
    C: tower_service::Service<Uri>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = Watched<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.0.call(dst);
        Box::pin(async move {
            let inner = connecting.await.map_err(Into::into)?;
            Ok(Watched {
                inner,
                watch: Watch::default(),
            })
        })
    }
}
