//! Commands as the log stores them: RESP arrays of bulk strings, each run
//! of them preceded by a record naming the tenant they act as.

use super::DEFAULT_TENANT;

/// Encoded commands waiting to be written, and the tenant the last tenant
/// record named.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
    tenant: Option<String>,
}

impl Encoder {
    /// An encoder whose buffer starts with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Encoder {
        Encoder {
            buf: Vec::with_capacity(capacity),
            tenant: None,
        }
    }

    /// Makes the next commands act as `tenant`: a tenant record (`SELECT 0`
    /// for the default tenant, as Redis's logs start, `TENANT name` for
    /// another), unless the last one already named it.
    pub fn select(&mut self, tenant: &str) {
        if self.tenant.as_deref() == Some(tenant) {
            return;
        }
        if tenant == DEFAULT_TENANT {
            self.append(&[b"SELECT", b"0"]);
        } else {
            self.append(&[b"TENANT", tenant.as_bytes()]);
        }
        self.tenant = Some(tenant.to_owned());
    }

    /// Appends one command.
    pub fn append(&mut self, args: &[&[u8]]) {
        self.append_iter(args.len(), args.iter().copied());
    }

    /// Appends one command of `count` arguments.
    pub fn append_iter<'a>(&mut self, count: usize, args: impl Iterator<Item = &'a [u8]>) {
        let buf = &mut self.buf;
        buf.push(b'*');
        buf.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        buf.extend_from_slice(b"\r\n");
        for arg in args {
            buf.push(b'$');
            buf.extend_from_slice(itoa::Buffer::new().format(arg.len()).as_bytes());
            buf.extend_from_slice(b"\r\n");
            buf.extend_from_slice(arg);
            buf.extend_from_slice(b"\r\n");
        }
    }

    /// What is encoded and not yet taken.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the encoded bytes (once written), keeping the tenant.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_records_only_when_the_tenant_changes() {
        let mut enc = Encoder::default();
        enc.select("default");
        enc.append(&[b"SET", b"k", b"v"]);
        enc.select("default");
        enc.select("alice");
        enc.append(&[b"DEL", b"k"]);
        assert_eq!(
            enc.bytes(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
              *2\r\n$6\r\nTENANT\r\n$5\r\nalice\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
        );
    }
}
