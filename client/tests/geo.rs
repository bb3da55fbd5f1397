//! The typed geo methods against a real two-core Kiln server, on a client
//! and in a pipeline, over RESP2 and RESP3.

mod common;

use common::{TestServer, b, key_on_core};
use kiln_client::{GeoAdd, GeoMember, GeoSearch, GeoUnit, Reply};

#[test]
fn geo_methods() {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut c = server.client(resp3);
        c.flushall().unwrap();
        let (g, d) = (key_on_core("g", 1), key_on_core("d", 0));
        assert_eq!(
            c.geoadd(&g, &[(13.361389, 38.115556, "Palermo")]).unwrap(),
            1
        );
        let add = GeoAdd::new(&g)
            .ch()
            .member(15.087269, 37.502669, "Catania")
            .member(13.4, 38.1, "Palermo");
        assert_eq!(add.run(&mut c).unwrap(), 2);
        assert_eq!(
            GeoAdd::new(&g)
                .nx()
                .member(1.0, 1.0, "Palermo")
                .run(&mut c)
                .unwrap(),
            0
        );
        assert_eq!(
            c.geodist(&g, "Palermo", "Catania", GeoUnit::Km).unwrap(),
            Some(162.4846)
        );
        assert_eq!(c.geodist(&g, "Palermo", "nope", GeoUnit::M).unwrap(), None);
        assert_eq!(
            c.geohash(&g, &["Catania", "nope"]).unwrap(),
            [Some("sqdtr74hyu0".to_owned()), None]
        );
        let pos = c.geopos(&g, &["Catania", "nope"]).unwrap();
        let (lon, lat) = pos[0].unwrap();
        assert!((lon - 15.087269).abs() < 1e-5 && (lat - 37.502669).abs() < 1e-5);
        assert_eq!(pos[1], None);

        let near = GeoSearch::from_lonlat(&g, 15.0, 37.0)
            .by_radius(200.0, GeoUnit::Km)
            .asc();
        let names: Vec<_> = c
            .geosearch(&near)
            .unwrap()
            .into_iter()
            .map(|m| m.member)
            .collect();
        assert_eq!(names, [b("Catania"), b("Palermo")]);
        let full = near.clone().count(1).with_dist().with_hash().with_coord();
        let found = c.geosearch(&full).unwrap();
        assert_eq!(found.len(), 1);
        let GeoMember {
            member,
            dist,
            hash,
            coord,
        } = &found[0];
        assert_eq!(
            (member, *dist, *hash),
            (&b("Catania"), Some(56.4413), Some(3479447370796909))
        );
        assert!(coord.is_some());
        let boxed = GeoSearch::from_member(&g, "Catania")
            .by_box(400.0, 400.0, GeoUnit::Km)
            .desc()
            .count_any(5);
        assert_eq!(c.geosearch(&boxed).unwrap().len(), 2);

        // The destination lives on the other core: the main port gathers.
        assert_eq!(c.geosearchstore(&d, &near, true).unwrap(), 2);
        assert_eq!(
            c.zscore(&d, "Catania").unwrap().map(|s| (s * 1e4).round()),
            Some(564413.0)
        );
        assert_eq!(
            c.geosearchstore(&d, &near.clone().count(1), false).unwrap(),
            1
        );
        assert_eq!(c.zscore(&d, "Catania").unwrap(), Some(3479447370796909.0));

        let replies = c
            .pipeline()
            .geoadd(&g, &[(2.35, 48.85, "Paris")])
            .geodist(&g, "Paris", "Paris", GeoUnit::Mi)
            .geohash(&g, &["nope"])
            .query()
            .unwrap();
        assert_eq!(
            replies,
            [
                Reply::Integer(1),
                Reply::Bulk(b("0.0000")),
                Reply::Array(vec![Reply::Nil])
            ]
        );
    }
}
