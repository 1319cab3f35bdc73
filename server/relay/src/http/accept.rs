//! The accept loop: HTTP/1.1 over hyper with a bound on the time to read a request's headers and
//! on the connections one peer address may hold at once, so a client trickling its headers (or
//! holding sockets open without a word) can't tie the relay up; both are below the request
//! layers (rate limits, time limit), which only see a request once its headers are read.
//! Graceful shutdown: stop accepting, let each connection finish its request in flight.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt as _;

/// Open connections per peer address, shared by the accept loop and the connection tasks.
#[derive(Debug, Default, Clone)]
struct PerPeer(Arc<Mutex<HashMap<IpAddr, u32>>>);

/// One connection's place in [`PerPeer`], given back when the connection ends.
struct Slot {
    peers: PerPeer,
    ip: IpAddr,
}

impl PerPeer {
    /// A slot for `ip`, unless it already holds `max` connections (`max == 0`: no limit).
    fn take(&self, ip: IpAddr, max: u32) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_default();
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.peers.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// How connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Longest time from a connection's readiness for a request (its start, or the end of the
    /// previous answer) to the end of that request's headers; then the connection is closed.
    pub header_read_timeout: Duration,
    /// Most connections one peer IP address may hold open at once; more are closed as soon as
    /// they are accepted. 0: no limit.
    pub max_connections_per_ip: u32,
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, runs
/// `on_shutdown`, and waits for the open connections to finish their requests in flight.
/// Requests carry the peer's `ConnectInfo<SocketAddr>` as `axum::serve` with connect info does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce(),
) -> std::io::Result<()> {
    let peers = PerPeer::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Forget finished connection tasks as we go, so the set stays as large as what is open.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = peers.take(peer.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(peer = %peer.ip(), max = limits.max_connections_per_ip,
                "connection refused: too many open connections from this address");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req)
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let outcome = tokio::select! {
                outcome = conn.as_mut() => outcome,
                () = async { let _ = stopped.wait_for(|stop| *stop).await; } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(err) = outcome {
                tracing::debug!(peer = %peer, %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    on_shutdown();
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// What `axum::serve` does on an accept error: per-connection errors are skipped, others (out
/// of file descriptors, …) are logged and waited out for a moment.
async fn accept_error(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_address_and_given_back() {
        let peers = PerPeer::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = peers.take(a, 2);
        let second = peers.take(a, 2);
        assert!(first.is_some() && second.is_some());
        assert!(peers.take(a, 2).is_none());
        assert!(peers.take(b, 2).is_some());
        drop(first);
        assert!(peers.take(a, 2).is_some());
        drop(second);
        assert!((0..100).all(|_| peers.take(a, 0).is_some()));
        assert!(
            peers
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        );
    }
}
