//! One blocking TCP connection to a server port: handshake, request bytes
//! out, replies in.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use kiln_net::Reply;
use kiln_net::resp::decode::{FrameScanner, decode_bytes};
use kiln_net::resp::encode_request;

use crate::{ClientConfig, Error};

/// How much the read buffer grows by per read.
const READ_CHUNK: usize = 64 * 1024;

/// A connection with its reusable read and write buffers.
pub(crate) struct NodeConnection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read but not yet returned as replies.
    rbuf: BytesMut,
    /// Remembers how far into a partial reply `rbuf` has been checked.
    scanner: FrameScanner,
    wbuf: Vec<u8>,
    /// The socket's read timeout now (set only when it changes).
    read_timeout: Option<Duration>,
}

impl NodeConnection {
    /// Connects to the first reachable address and runs the handshake.
    pub(crate) fn open(
        addrs: &[SocketAddr],
        config: &ClientConfig,
    ) -> Result<NodeConnection, Error> {
        let mut last = None;
        for addr in addrs {
            let stream = match config.connect_timeout {
                Some(timeout) => TcpStream::connect_timeout(addr, timeout),
                None => TcpStream::connect(addr),
            };
            match stream {
                Ok(stream) => return NodeConnection::setup(stream, *addr, config),
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or(Error::NoAddress, Error::Io))
    }

    fn setup(
        stream: TcpStream,
        peer: SocketAddr,
        config: &ClientConfig,
    ) -> Result<NodeConnection, Error> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(config.read_timeout)?;
        stream.set_write_timeout(config.write_timeout)?;
        let mut conn = NodeConnection {
            stream,
            peer,
            rbuf: BytesMut::new(),
            scanner: FrameScanner::new(),
            wbuf: Vec::new(),
            read_timeout: config.read_timeout,
        };
        conn.handshake(config)?;
        Ok(conn)
    }

    /// The address this connection reached.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// `HELLO 3` (with `AUTH` and `SETNAME`) or `AUTH` + `CLIENT SETNAME`, then
    /// `SELECT`, pipelined; the first error reply fails the connection.
    fn handshake(&mut self, config: &ClientConfig) -> Result<(), Error> {
        let mut commands: Vec<Vec<&[u8]>> = Vec::new();
        let user = config.user.as_deref().unwrap_or("default").as_bytes();
        if config.resp3 {
            let mut hello: Vec<&[u8]> = vec![b"HELLO", b"3"];
            if let Some(password) = &config.password {
                hello.extend([b"AUTH".as_slice(), user, password.as_bytes()]);
            }
            if let Some(name) = &config.name {
                hello.extend([b"SETNAME".as_slice(), name.as_bytes()]);
            }
            commands.push(hello);
        } else {
            if let Some(password) = &config.password {
                match &config.user {
                    Some(_) => commands.push(vec![b"AUTH", user, password.as_bytes()]),
                    None => commands.push(vec![b"AUTH", password.as_bytes()]),
                }
            }
            if let Some(name) = &config.name {
                commands.push(vec![b"CLIENT", b"SETNAME", name.as_bytes()]);
            }
        }
        let db = config.db.to_string();
        if config.db != 0 {
            commands.push(vec![b"SELECT", db.as_bytes()]);
        }
        if commands.is_empty() {
            return Ok(());
        }
        self.wbuf.clear();
        for command in &commands {
            encode_request(command, &mut self.wbuf);
        }
        self.stream.write_all(&self.wbuf)?;
        let mut first_error = None;
        for _ in &commands {
            if let Reply::Error(text) = self.read_reply()? {
                first_error.get_or_insert(Error::from_server_text(&text));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Sets the socket's read timeout if it is not `timeout` already.
    pub(crate) fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.read_timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }

    /// Writes already-encoded request bytes.
    pub(crate) fn send(&mut self, encoded: &[u8]) -> io::Result<()> {
        self.stream.write_all(encoded)
    }

    /// Sends one command and reads its reply.
    pub(crate) fn request<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        self.wbuf.clear();
        encode_request(args, &mut self.wbuf);
        self.stream.write_all(&self.wbuf)?;
        self.read_reply()
    }

    /// Reads the next reply, blocking until it is complete.
    pub(crate) fn read_reply(&mut self) -> Result<Reply, Error> {
        loop {
            if let Some(len) = self.scanner.scan(&self.rbuf)? {
                // The reply's bulk strings become slices of this frame.
                let frame = self.rbuf.split_to(len).freeze();
                return match decode_bytes(&frame)? {
                    Some((reply, _)) => Ok(reply),
                    None => Err(Error::UnexpectedReply(
                        "scanned frame did not decode".into(),
                    )),
                };
            }
            let filled = self.rbuf.len();
            self.rbuf.resize(filled + READ_CHUNK, 0);
            let read = self.stream.read(&mut self.rbuf[filled..]);
            self.rbuf.truncate(filled + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by server",
                    )));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }
}
