//! A response body that says, once the server is done with it, whether it
//! was sent whole: a paid answer is recorded as delivered only then.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

/// `response`, with `then(sent)` run once its body was read to its end
/// (`true`) or dropped before (`false`).
pub(super) fn after_sent(
    response: Response<Body>,
    then: impl FnOnce(bool) + Send + 'static,
) -> Response<Body> {
    response.map(|inner| {
        Body::new(Watched {
            inner,
            then: Some(Box::new(then)),
            ended: false,
        })
    })
}

struct Watched {
    inner: Body,
    then: Option<Box<dyn FnOnce(bool) + Send>>,
    ended: bool,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.ended = true,
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(then) = self.then.take() {
            then(self.ended || self.inner.is_end_stream());
        }
    }
}
