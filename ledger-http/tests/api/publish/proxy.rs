//! A TCP proxy in front of a broker that the test stops (listener closed,
//! every connection cut) and resumes on the same port: a broker that is
//! down, or goes away mid-stream, without touching the real one.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct Proxy {
    pub address: SocketAddr,
    target: SocketAddr,
    running: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy to `target` on a free port of 127.0.0.1, not yet forwarding.
    pub async fn stopped(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        Proxy { address, target, running: None }
    }

    /// Listens again and forwards every connection to the target.
    pub async fn resume(&mut self) {
        assert!(self.running.is_none(), "already forwarding");
        let listener = TcpListener::bind(self.address).await.unwrap();
        let target = self.target;
        self.running = Some(tokio::spawn(async move {
            // Dropped with the task: every connection is cut at once.
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }
}
