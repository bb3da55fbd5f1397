//! kiln-client's typed stream methods against the real server.

mod common;

use bytes::Bytes;
use common::TestServer;
use kiln_client::Client;

#[test]
fn typed_stream_methods_round_trip() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    assert_eq!(
        client.xadd("s", "1-1", &[("a", "1"), ("b", "2")]).unwrap(),
        Bytes::from("1-1")
    );
    let id = client.xadd("s", "*", &[("a", "3")]).unwrap();
    assert_eq!(client.xlen("s").unwrap(), 2);
    let all = client.xrange("s", "-", "+", 0).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0],
        (
            Bytes::from("1-1"),
            Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        )
    );
    assert_eq!(client.xrevrange("s", "+", "-", 1).unwrap()[0].0, id);
    let read = client.xread(&[("s", "1-1")], 0).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].1[0].0, id);
    client.xgroup_create("s", "g", "0", false).unwrap();
    let got = client.xreadgroup("g", "c", &[("s", ">")], 1).unwrap();
    assert_eq!(got[0].0, Bytes::from("s"));
    assert_eq!(got[0].1.len(), 1);
    assert_eq!(client.xpending_count("s", "g").unwrap(), 1);
    assert_eq!(client.xack("s", "g", &["1-1"]).unwrap(), 1);
    assert_eq!(client.xpending_count("s", "g").unwrap(), 0);
    assert_eq!(client.xdel("s", &["1-1"]).unwrap(), 1);
    assert!(client.xread(&[("s", id.as_ref())], 0).unwrap().is_empty());
}
