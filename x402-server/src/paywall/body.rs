//! A response body that records a paid answer as delivered as the answer's
//! body starts to leave (its first bytes wait for the record), or not at all
//! when the body is dropped unread.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

/// What to do once the body is out (`true`) or abandoned (`false`).
pub(super) type Then = Box<dyn FnOnce(bool) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// `response`, with `then(true)` run to its end before the body's first
/// bytes are handed to the connection (so that a client's next request sees
/// what it did, and a client that stops reading part-way cannot have the
/// payment delivered again), or `then(false)` spawned when the body is
/// dropped unread.
pub(super) fn after_sent(response: Response<Body>, then: Then) -> Response<Body> {
    response.map(|inner| {
        Body::new(Watched {
            inner,
            then: Some(then),
            finishing: None,
            last: None,
        })
    })
}

struct Watched {
    inner: Body,
    then: Option<Then>,
    /// `then(true)`, running, with the last frame held until it ends.
    finishing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    last: Option<Option<Result<Frame<Bytes>, axum::Error>>>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.finishing.is_none() && this.last.is_none() {
            let polled = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(p) => p,
            };
            // The first frame (or the end of an empty body) is where the
            // answer starts to leave.
            let leaving = !matches!(polled, Some(Err(_)));
            match (leaving, this.then.take()) {
                (true, Some(then)) => {
                    this.finishing = Some(then(true));
                    this.last = Some(polled);
                }
                (_, then) => {
                    this.then = then;
                    return Poll::Ready(polled);
                }
            }
        }
        if let Some(f) = this.finishing.as_mut() {
            if f.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.finishing = None;
        }
        Poll::Ready(this.last.take().flatten())
    }

    fn is_end_stream(&self) -> bool {
        self.finishing.is_none()
            && self.last.is_none()
            && self.then.is_none()
            && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.last {
            Some(Some(Ok(frame))) => {
                SizeHint::with_exact(frame.data_ref().map_or(0, |d| d.len() as u64))
            }
            Some(_) => SizeHint::with_exact(0),
            None => self.inner.size_hint(),
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Never read (a HEAD, a client gone before the answer): nothing was
        // delivered, unless the body was empty from the start.
        if let Some(then) = self.then.take() {
            let sent = self.inner.is_end_stream();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(then(sent));
            }
        }
    }
}
