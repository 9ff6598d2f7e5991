//! The accept loop both stand-ins (the DSA and the GDC) share: a thread that hands each
//! connection to its own thread, and a drop that stops, wakes and joins it and shuts every
//! connection down, so a test that ends never leaves a server answering.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running accept loop on a listener.
pub(crate) struct Acceptor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Accepts on `listener` in a thread named `name`, serving each connection with `serve` on a
    /// thread named `<name>-conn`.
    pub(crate) fn start(
        listener: TcpListener,
        name: &str,
        serve: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> std::io::Result<Acceptor> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let serve = Arc::new(serve);
        let conn_name = format!("{name}-conn");
        let accept = {
            let (stop, conns) = (stop.clone(), conns.clone());
            std::thread::Builder::new().name(format!("{name}-accept")).spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        conns.lock().expect("conns lock").push(clone);
                    }
                    let serve = serve.clone();
                    let _ = std::thread::Builder::new().name(conn_name.clone()).spawn(move || serve(stream));
                }
            })?
        };
        Ok(Acceptor { addr, stop, conns, accept: Some(accept) })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for c in self.conns.lock().expect("conns lock").drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}
