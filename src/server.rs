//! Starting and stopping the server: bind every listener, build the shared
//! state, spawn one thread per core.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mio::net::TcpListener;
use mio::{Poll, Token, Waker};
use socket2::{Domain, Protocol as SockProtocol, Socket, Type};

use crate::config::Settings;
use crate::engine::{Engine, Msg};
use crate::shared::{Shared, SlotMap, random_hex_id};
use crate::tenant::Tenants;
use kiln_net::transport::{Exchange, Worker, WorkerParts};
use kiln_persist::aof::AofDir;

/// Pending connections the kernel queues per listener (Redis's tcp-backlog).
const BACKLOG: i32 = 511;

/// The server entry point.
pub struct Server;

/// A running server.
pub struct Handle {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// Stops a server from another thread (signal handler, SHUTDOWN).
#[derive(Clone)]
pub struct ShutdownTrigger(Arc<Shared>);

impl ShutdownTrigger {
    /// Asks every core to stop.
    pub fn shutdown(&self) {
        self.0.request_shutdown();
    }
}

impl Server {
    /// Binds the main port (one SO_REUSEPORT listener per core) and each
    /// core's own port, then starts the cores. Returns once every listener
    /// is bound, so clients may connect as soon as this returns.
    pub fn start(mut settings: Settings) -> io::Result<Handle> {
        let cores = settings.cores;
        settings.maxclients = crate::fdlimit::raise_for(settings.maxclients, cores);
        kiln_persist::rdb::set_compression(settings.rdbcompression);
        let tenants = Tenants::new(
            &settings.tenants,
            settings.tenant_file.as_deref(),
            settings.max_tenants,
            cores,
        )
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let first = listener(SocketAddr::new(settings.bind, settings.port), true)?;
        let main_addr = first.local_addr()?;
        let mut main_listeners = vec![first];
        for _ in 1..cores {
            main_listeners.push(listener(main_addr, true)?);
        }
        let mut core_listeners = Vec::with_capacity(cores);
        for k in 0..cores {
            let port = match settings.core_port_base {
                0 => 0,
                base => base + k as u16,
            };
            core_listeners.push(listener(SocketAddr::new(settings.bind, port), false)?);
        }
        let ports: Vec<u16> = core_listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<io::Result<_>>()?;

        let mut polls = Vec::with_capacity(cores);
        let mut wakers = Vec::with_capacity(cores);
        for _ in 0..cores {
            let poll = Poll::new()?;
            wakers.push(Waker::new(poll.registry(), Token(0))?);
            polls.push(poll);
        }
        let exchange = Arc::new(Exchange::<Msg>::new(wakers));
        let run_id = random_hex_id();
        let slots = SlotMap::new(&ports, settings.cluster_announce_ip, &run_id);
        let pin = settings.pin_threads;
        let registry = kiln_functions::Registry::open(&settings.dir, settings.functions.registry)
            .map_err(|e| io::Error::other(e.to_string()))?;
        // The log directory is locked before any core starts, so a second
        // server on the same directory stops here.
        let aof = match settings.aof.enabled {
            true => {
                let path = settings.dir.join(&settings.aof.dirname);
                let dir = AofDir::open(&path, &settings.aof.filename, cores)?;
                Some(Arc::new(Mutex::new(dir)))
            }
            false => None,
        };
        let shared = Arc::new(
            Shared::new(
                settings,
                slots,
                Arc::clone(&exchange) as Arc<dyn kiln_net::transport::Bell>,
                cores,
                main_addr,
                run_id,
                tenants,
            )
            .with_registry(registry),
        );

        let cpu_ids = if pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        // The snapshot files there are, default tenant's first.
        let snapshot: Vec<std::path::PathBuf> = [
            crate::save::default_file(&shared),
            crate::save::tenants_file(&shared),
        ]
        .into_iter()
        .filter(|path| path.exists())
        .collect();
        let mut threads = Vec::with_capacity(cores);
        let parts = polls
            .into_iter()
            .zip(main_listeners)
            .zip(core_listeners)
            .enumerate();
        // Each core is assembled on its own thread (its V8 isolates must
        // never move between threads) and reports back before we say ready.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        for (id, ((poll, main_listener), core_listener)) in parts {
            let parts = WorkerParts {
                core: id,
                poll,
                main_listener,
                core_listener,
                exchange: Arc::clone(&exchange),
                next_client_id: Arc::clone(&shared.next_client_id),
                hz: shared.settings.hz,
            };
            let shared = Arc::clone(&shared);
            let aof = aof.clone();
            let snapshot = snapshot.clone();
            let ready = ready_tx.clone();
            let cpu = (!cpu_ids.is_empty()).then(|| cpu_ids[id % cpu_ids.len()]);
            let thread = std::thread::Builder::new()
                .name(format!("kiln-core-{id}"))
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        core_affinity::set_for_current(cpu);
                    }
                    let mut engine = Engine::new(id, Arc::clone(&shared));
                    match aof {
                        Some(aof) => engine.load_from(aof),
                        // Without a log, the last snapshot (as Redis).
                        None if !snapshot.is_empty() => engine.load_snapshot(snapshot.clone()),
                        None => {}
                    }
                    let core = match Worker::new(parts, engine) {
                        Ok(core) => core,
                        Err(e) => {
                            let _ = ready.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    // Anything else that panics stops the whole server: a
                    // core that silently vanished would leave requests
                    // forwarded to it waiting forever.
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.run())) {
                        Ok(engine) => final_save(engine, &shared),
                        Err(_) => {
                            tracing::error!(core = id, "core thread panicked; shutting down");
                            shared.request_shutdown();
                        }
                    }
                })?;
            threads.push(thread);
        }
        drop(ready_tx);
        let started: io::Result<Vec<()>> = ready_rx.iter().take(cores).collect();
        if let Err(e) = started {
            shared.request_shutdown();
            for thread in threads {
                let _ = thread.join();
            }
            return Err(e);
        }
        if shared.settings.metrics_port != 0 {
            let addr = SocketAddr::new(shared.settings.bind, shared.settings.metrics_port);
            match crate::metrics::endpoint::start(Arc::clone(&shared), addr) {
                Ok(thread) => {
                    tracing::info!(%addr, "metrics endpoint: GET /metrics");
                    threads.push(thread);
                }
                Err(e) => {
                    shared.request_shutdown();
                    for thread in threads {
                        let _ = thread.join();
                    }
                    return Err(io::Error::new(
                        e.kind(),
                        format!("metrics-port {addr}: {e}"),
                    ));
                }
            }
        }
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            config_file = %shared
                .settings
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            addr = %main_addr,
            cores,
            core_ports = ?ports,
            "Kiln ready to accept connections"
        );
        Ok(Handle { shared, threads })
    }
}

impl Handle {
    /// The main port's address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.main_addr
    }

    /// Each core's own address, by core index.
    pub fn core_addrs(&self) -> Vec<SocketAddr> {
        self.shared
            .slots
            .nodes
            .iter()
            .map(|n| SocketAddr::new(self.shared.main_addr.ip(), n.port))
            .collect()
    }

    /// A handle that can stop the server from elsewhere.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger(Arc::clone(&self.shared))
    }

    /// Asks the cores to stop and waits for them.
    pub fn shutdown(self) {
        self.shared.request_shutdown();
        let _ = self.wait();
    }

    /// Waits until the cores stop (after SHUTDOWN or a trigger), then
    /// until every function library change is on disk; `Err` says why the
    /// server stopped when it could not go on (a corrupt log at load).
    pub fn wait(self) -> Result<(), String> {
        for thread in self.threads {
            let _ = thread.join();
        }
        self.shared.functions.sync();
        self.shared.failure().map_or(Ok(()), Err)
    }
}

/// The save as the server stops (`SHUTDOWN SAVE`, or a `save` schedule
/// with rules): every core, stopped, writes its part; the last one joins
/// the files. Nothing is written after a failure (a corrupt log at load
/// must not be saved over).
fn final_save(mut engine: Engine, shared: &Shared) {
    if shared.failure().is_some() || engine.is_loading() || !shared.saves.save_at_shutdown() {
        return;
    }
    let saved = engine.save_part_now();
    if let Err(why) = &saved {
        tracing::warn!(core = engine.id, error = %why, "cannot save as the server stops");
    }
    if shared.saves.part_written(saved) {
        let _ = shared.saves.finish(shared);
    }
}

/// A non-blocking listener. `share_port`: SO_REUSEPORT, so every core can
/// listen on the main port and the kernel spreads connections among them.
fn listener(addr: SocketAddr, share_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if share_port {
        socket.set_reuse_port(true)?;
    }
    bind_listen(socket, addr)
}

fn bind_listen(socket: Socket, addr: SocketAddr) -> io::Result<TcpListener> {
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}
