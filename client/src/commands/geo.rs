//! Geo commands, for [`Client`](crate::Client) and
//! [`Pipeline`](crate::Pipeline): GEOADD (the [`GeoAdd`] builder), GEODIST,
//! GEOHASH, GEOPOS, and GEOSEARCH / GEOSEARCHSTORE (the [`GeoSearch`]
//! builder). GEORADIUS and its forms, deprecated by Redis for GEOSEARCH,
//! are reachable with [`Client::cmd`](crate::Client::cmd).
//!
//! Coordinates come back as RESP3 doubles or RESP2 bulk strings, distances
//! as 4-decimal strings; all are `f64` here.

use bytes::Bytes;
use kiln_net::Reply;

use super::{ArgBytes, b, bytes, float, int, items, n, opt_bytes, opt_tuple, s, unexpected};
use crate::Error;

/// A distance unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GeoUnit {
    /// Meters.
    #[default]
    M,
    /// Kilometers.
    Km,
    /// Feet.
    Ft,
    /// Miles.
    Mi,
}

impl GeoUnit {
    fn word(self) -> &'static str {
        match self {
            GeoUnit::M => "M",
            GeoUnit::Km => "KM",
            GeoUnit::Ft => "FT",
            GeoUnit::Mi => "MI",
        }
    }
}

fn coord(v: f64) -> ArgBytes<'static> {
    n(v)
}

/// `GEOADD key [NX|XX] [CH] lon lat member...`, built up:
///
/// ```no_run
/// # let mut client = kiln_client::Client::connect("127.0.0.1:6379").unwrap();
/// use kiln_client::GeoAdd;
/// let added = GeoAdd::new("places")
///     .member(13.361389, 38.115556, "Palermo")
///     .member(15.087269, 37.502669, "Catania")
///     .run(&mut client)?;
/// # Ok::<(), kiln_client::Error>(())
/// ```
///
/// A later `nx()` / `xx()` replaces an earlier one.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoAdd {
    key: Vec<u8>,
    nx: bool,
    xx: bool,
    changed: bool,
    members: Vec<(f64, f64, Vec<u8>)>,
}

impl GeoAdd {
    /// `GEOADD key` with no members yet.
    pub fn new(key: impl AsRef<[u8]>) -> GeoAdd {
        GeoAdd {
            key: key.as_ref().to_vec(),
            nx: false,
            xx: false,
            changed: false,
            members: Vec::new(),
        }
    }

    /// `NX`: only add new members.
    pub fn nx(mut self) -> Self {
        (self.nx, self.xx) = (true, false);
        self
    }

    /// `XX`: only move existing members.
    pub fn xx(mut self) -> Self {
        (self.nx, self.xx) = (false, true);
        self
    }

    /// `CH`: count moved members too.
    pub fn ch(mut self) -> Self {
        self.changed = true;
        self
    }

    /// Adds a `longitude latitude member` triple.
    pub fn member(mut self, lon: f64, lat: f64, member: impl AsRef<[u8]>) -> Self {
        self.members.push((lon, lat, member.as_ref().to_vec()));
        self
    }

    /// Runs it: [`Client::geoadd_with`](crate::Client::geoadd_with).
    pub fn run(&self, client: &mut crate::Client) -> Result<i64, Error> {
        client.geoadd_with(self)
    }

    fn args(&self) -> Vec<ArgBytes<'_>> {
        let mut args = vec![s("GEOADD"), b(&self.key)];
        if self.nx {
            args.push(s("NX"));
        }
        if self.xx {
            args.push(s("XX"));
        }
        if self.changed {
            args.push(s("CH"));
        }
        for (lon, lat, member) in &self.members {
            args.extend([coord(*lon), coord(*lat), b(member)]);
        }
        args
    }
}

/// Where a [`GeoSearch`] is centred.
#[derive(Debug, Clone, PartialEq)]
enum From {
    Member(Vec<u8>),
    LonLat(f64, f64),
}

/// What a [`GeoSearch`] covers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum By {
    Radius(f64, GeoUnit),
    Box(f64, f64, GeoUnit),
}

/// `GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h
/// unit [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`:
///
/// ```no_run
/// # let mut client = kiln_client::Client::connect("127.0.0.1:6379").unwrap();
/// use kiln_client::{GeoSearch, GeoUnit};
/// let near = GeoSearch::from_lonlat("places", 15.0, 37.0)
///     .by_radius(200.0, GeoUnit::Km)
///     .asc()
///     .count(10)
///     .with_dist();
/// for found in client.geosearch(&near)? {
///     println!("{:?} at {:?} km", found.member, found.dist);
/// }
/// # Ok::<(), kiln_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GeoSearch {
    key: Vec<u8>,
    from: From,
    by: By,
    desc: Option<bool>,
    count: Option<(u64, bool)>,
    with_coord: bool,
    with_dist: bool,
    with_hash: bool,
}

impl GeoSearch {
    fn new(key: impl AsRef<[u8]>, from: From) -> GeoSearch {
        GeoSearch {
            key: key.as_ref().to_vec(),
            from,
            by: By::Radius(0.0, GeoUnit::M),
            desc: None,
            count: None,
            with_coord: false,
            with_dist: false,
            with_hash: false,
        }
    }

    /// Centred on a member of `key` (`FROMMEMBER`); a 0 m radius until
    /// [`by_radius`](Self::by_radius) or [`by_box`](Self::by_box).
    pub fn from_member(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> GeoSearch {
        GeoSearch::new(key, From::Member(member.as_ref().to_vec()))
    }

    /// Centred on a point (`FROMLONLAT`).
    pub fn from_lonlat(key: impl AsRef<[u8]>, lon: f64, lat: f64) -> GeoSearch {
        GeoSearch::new(key, From::LonLat(lon, lat))
    }

    /// `BYRADIUS radius unit`
    pub fn by_radius(mut self, radius: f64, unit: GeoUnit) -> Self {
        self.by = By::Radius(radius, unit);
        self
    }

    /// `BYBOX width height unit`
    pub fn by_box(mut self, width: f64, height: f64, unit: GeoUnit) -> Self {
        self.by = By::Box(width, height, unit);
        self
    }

    /// `ASC`: nearest first.
    pub fn asc(mut self) -> Self {
        self.desc = Some(false);
        self
    }

    /// `DESC`: farthest first.
    pub fn desc(mut self) -> Self {
        self.desc = Some(true);
        self
    }

    /// `COUNT n`: the `n` nearest (or, with `DESC`, farthest).
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some((count, false));
        self
    }

    /// `COUNT n ANY`: stop at the first `n` found, whichever they are.
    pub fn count_any(mut self, count: u64) -> Self {
        self.count = Some((count, true));
        self
    }

    /// `WITHCOORD`: each member's position.
    pub fn with_coord(mut self) -> Self {
        self.with_coord = true;
        self
    }

    /// `WITHDIST`: each member's distance from the centre, in the unit.
    pub fn with_dist(mut self) -> Self {
        self.with_dist = true;
        self
    }

    /// `WITHHASH`: each member's raw 52-bit geohash (its score).
    pub fn with_hash(mut self) -> Self {
        self.with_hash = true;
        self
    }

    /// The arguments after the command name's keys.
    fn push_query<'a>(&'a self, args: &mut Vec<ArgBytes<'a>>) {
        match &self.from {
            From::Member(m) => args.extend([s("FROMMEMBER"), b(m)]),
            From::LonLat(lon, lat) => args.extend([s("FROMLONLAT"), coord(*lon), coord(*lat)]),
        }
        match self.by {
            By::Radius(r, unit) => args.extend([s("BYRADIUS"), n(r), s(unit.word())]),
            By::Box(w, h, unit) => args.extend([s("BYBOX"), n(w), n(h), s(unit.word())]),
        }
        match self.desc {
            Some(true) => args.push(s("DESC")),
            Some(false) => args.push(s("ASC")),
            None => {}
        }
        if let Some((count, any)) = self.count {
            args.extend([s("COUNT"), n(count)]);
            if any {
                args.push(s("ANY"));
            }
        }
    }

    fn args(&self) -> Vec<ArgBytes<'_>> {
        let mut args = vec![s("GEOSEARCH"), b(&self.key)];
        self.push_query(&mut args);
        for (on, word) in [
            (self.with_coord, "WITHCOORD"),
            (self.with_dist, "WITHDIST"),
            (self.with_hash, "WITHHASH"),
        ] {
            if on {
                args.push(s(word));
            }
        }
        args
    }

    fn store_args<'a>(&'a self, destination: &'a [u8], store_dist: bool) -> Vec<ArgBytes<'a>> {
        let mut args = vec![s("GEOSEARCHSTORE"), b(destination), b(&self.key)];
        self.push_query(&mut args);
        if store_dist {
            args.push(s("STOREDIST"));
        }
        args
    }

    /// The reply's members, with what the `WITH*` options asked for.
    fn convert(&self, reply: Reply) -> Result<Vec<GeoMember>, Error> {
        let plain = !(self.with_coord || self.with_dist || self.with_hash);
        items(reply)?
            .into_iter()
            .map(|item| {
                if plain {
                    return Ok(GeoMember::named(bytes(item)?));
                }
                let mut parts = items(item)?.into_iter();
                let mut next = || {
                    parts
                        .next()
                        .ok_or_else(|| unexpected("more fields", &Reply::Nil))
                };
                let mut found = GeoMember::named(bytes(next()?)?);
                if self.with_dist {
                    found.dist = Some(float(next()?)?);
                }
                if self.with_hash {
                    found.hash = Some(int(next()?)?);
                }
                if self.with_coord {
                    found.coord = position(next()?)?;
                }
                Ok(found)
            })
            .collect()
    }
}

/// One member a [`GeoSearch`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoMember {
    /// The member.
    pub member: Bytes,
    /// `WITHDIST`: its distance from the centre, in the search's unit.
    pub dist: Option<f64>,
    /// `WITHHASH`: its 52-bit geohash.
    pub hash: Option<i64>,
    /// `WITHCOORD`: its longitude and latitude.
    pub coord: Option<(f64, f64)>,
}

impl GeoMember {
    fn named(member: Bytes) -> GeoMember {
        GeoMember {
            member,
            dist: None,
            hash: None,
            coord: None,
        }
    }
}

/// `[lon, lat]`, or nil.
fn position(reply: Reply) -> Result<Option<(f64, f64)>, Error> {
    match opt_tuple(reply)? {
        Some([lon, lat]) => Ok(Some((float(lon)?, float(lat)?))),
        None => Ok(None),
    }
}

fn positions(reply: Reply) -> Result<Vec<Option<(f64, f64)>>, Error> {
    items(reply)?.into_iter().map(position).collect()
}

fn hashes(reply: Reply) -> Result<Vec<Option<String>>, Error> {
    items(reply)?
        .into_iter()
        .map(|r| Ok(opt_bytes(r)?.map(|b| String::from_utf8_lossy(&b).into_owned())))
        .collect()
}

fn opt_distance(reply: Reply) -> Result<Option<f64>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(None),
        other => float(other).map(Some),
    }
}

fn key_and<'a, M: AsRef<[u8]>>(
    name: &'static str,
    key: &'a [u8],
    members: &'a [M],
) -> Vec<ArgBytes<'a>> {
    let mut args = vec![s(name), b(key)];
    args.extend(members.iter().map(b));
    args
}

typed_commands! {
    /// `GEOADD key lon lat member...` → how many members were added.
    fn geoadd<M: AsRef<[u8]>>(key: impl AsRef<[u8]>, members: &[(f64, f64, M)]) -> i64
        = int => {
        let mut args = vec![s("GEOADD"), b(&key)];
        for (lon, lat, member) in members {
            args.extend([coord(*lon), coord(*lat), b(member)]);
        }
        args
    }

    /// `GEOADD key [NX|XX] [CH] ...` from a [`GeoAdd`] → how many members
    /// were added (with `CH`: added or moved).
    fn geoadd_with(geoadd: &GeoAdd) -> i64 = int => { geoadd.args() }

    /// `GEODIST key member1 member2 unit` → the distance (4 decimals), `None`
    /// if either member (or the key) is missing.
    fn geodist(key: impl AsRef<[u8]>, member1: impl AsRef<[u8]>, member2: impl AsRef<[u8]>,
        unit: GeoUnit) -> Option<f64> = opt_distance => {
        vec![s("GEODIST"), b(&key), b(&member1), b(&member2), s(unit.word())]
    }

    /// `GEOHASH key member...` → an 11-character geohash per member, `None`
    /// for a missing one.
    fn geohash(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> Vec<Option<String>>
        = hashes => { key_and("GEOHASH", key.as_ref(), members) }

    /// `GEOPOS key member...` → `(longitude, latitude)` per member, `None`
    /// for a missing one.
    fn geopos(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> Vec<Option<(f64, f64)>>
        = positions => { key_and("GEOPOS", key.as_ref(), members) }

    /// `GEOSEARCH ...` from a [`GeoSearch`] → the members found, with what
    /// its `with_*` options asked for.
    fn geosearch(search: &GeoSearch) -> Vec<GeoMember> = |r| search.convert(r) => {
        search.args()
    }

    /// `GEOSEARCHSTORE destination key ... [STOREDIST]` from a [`GeoSearch`]
    /// (its `with_*` options are not sent) → how many members were stored;
    /// with `store_dist` their scores are distances in the search's unit.
    fn geosearchstore(destination: impl AsRef<[u8]>, search: &GeoSearch, store_dist: bool)
        -> i64 = int => { search.store_args(destination.as_ref(), store_dist) }
}
