//! Geo commands over sorted sets (see `kiln_store::geo`): GEOADD, GEODIST,
//! GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS,
//! GEORADIUSBYMEMBER and their `_RO` forms.
//!
//! ```text
//! GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
//! GEOSEARCH key FROMMEMBER member | FROMLONLAT lon lat  BYRADIUS r unit | BYBOX w h unit
//!           [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
//! GEORADIUS key lon lat radius unit [...as GEOSEARCH] [STORE key | STOREDIST key]
//! ```
//!
//! Options are read in Redis's order and with its errors (so a missing
//! FROMMEMBER member is reported where Redis meets it). Distances are
//! bulk strings with 4 decimals in both protocols, coordinates doubles
//! (bulk strings in RESP2), hashes integers. GEOSEARCHSTORE gathers its
//! source from another core on the main port, as ZRANGESTORE does;
//! GEORADIUS's STORE destination (found by keyword, not a key position)
//! must live on the source's core, as SORT's (`-CROSSSLOT` otherwise).

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_store::ZAddFlags;
use kiln_store::geo::{self, GeoPoint, Query, Shape};
use kiln_store::numeric::parse_f64;

use super::collection::reply;
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, gather, int_arg};
use crate::command;

const READ: &[&str] = &["@read", "@geo", "@slow"];
const WRITE: &[&str] = &["@write", "@geo", "@slow"];
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM);
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
/// A source on another core is gathered on the main port ([`gather`]).
const GATHERED: Route = Route::Keys(KeyRouting::Planned(gather::algebra_plan));
const K1: KeySpec = KeySpec::FIRST;

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("geoadd", -5, GROWS, WRITE, K1, ONE_CORE, geoadd,
        "geo", "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    command!("geodist", -4, Flags::READONLY, READ, K1, ONE_CORE, geodist,
        "geo", "3.2.0", "Returns the distance between two members of a geospatial index."),
    command!("geohash", -2, Flags::READONLY, READ, K1, ONE_CORE, geohash,
        "geo", "3.2.0", "Returns members from a geospatial index as geohash strings."),
    command!("geopos", -2, Flags::READONLY, READ, K1, ONE_CORE, geopos,
        "geo", "3.2.0", "Returns the longitude and latitude of members from a geospatial index."),
    command!("georadius", -6, GROWS, WRITE, K1, ONE_CORE, georadius,
        "geo", "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
    command!("georadius_ro", -6, Flags::READONLY, READ, K1, ONE_CORE, georadius_ro,
        "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate."),
    command!("georadiusbymember", -5, GROWS, WRITE, K1, ONE_CORE, georadiusbymember,
        "geo", "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result."),
    command!("georadiusbymember_ro", -5, Flags::READONLY, READ, K1, ONE_CORE, georadiusbymember_ro,
        "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a member."),
    command!("geosearch", -7, Flags::READONLY, READ, K1, ONE_CORE, geosearch,
        "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle."),
    command!("geosearchstore", -8, GROWS, WRITE, KeySpec::range(1, 2, 1), GATHERED, geosearchstore,
        "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    (
        "geoadd",
        "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]",
    ),
    ("geodist", "key member1 member2 [M | KM | FT | MI]"),
    ("geohash", "key [member [member ...]]"),
    ("geopos", "key [member [member ...]]"),
    (
        "georadius",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]",
    ),
    (
        "georadius_ro",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]",
    ),
    (
        "georadiusbymember",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]",
    ),
    (
        "georadiusbymember_ro",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]",
    ),
    (
        "geosearch",
        "key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
    ),
    (
        "geosearchstore",
        "destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]",
    ),
];

/// `ERR could not decode requested zset member`
const NO_MEMBER: Reply = Reply::error("ERR could not decode requested zset member");

/// Meters per unit, or Redis's error.
fn unit(arg: &[u8]) -> Result<f64, Reply> {
    const UNITS: &[(&[u8], f64)] = &[
        (b"m", 1.0),
        (b"km", 1000.0),
        (b"ft", 0.3048),
        (b"mi", 1609.34),
    ];
    UNITS
        .iter()
        .find(|(name, _)| arg.eq_ignore_ascii_case(name))
        .map(|u| u.1)
        .ok_or(Reply::error(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
}

/// A float argument, or `ERR <what>` (Redis's custom message).
fn float(arg: &[u8], what: &'static str) -> Result<f64, Reply> {
    parse_f64(arg).ok_or(Reply::error(what))
}

/// `longitude latitude`, checked against the geo limits.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Reply> {
    let lon = parse_f64(lon).ok_or(errors::NOT_FLOAT)?;
    let lat = parse_f64(lat).ok_or(errors::NOT_FLOAT)?;
    if !geo::valid(lon, lat) {
        return Err(Reply::error_owned(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// `radius unit`: the shape and meters per unit.
fn radius(r: &[u8], u: &[u8]) -> Result<(Shape, f64), Reply> {
    let r = float(r, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((Shape::Radius(r), unit(u)?))
}

/// `width height unit`.
fn bybox(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Shape, f64), Reply> {
    let width = float(w, "ERR need numeric width")?;
    let height = float(h, "ERR need numeric height")?;
    if width < 0.0 || height < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((Shape::Box { width, height }, unit(u)?))
}

/// `GEOADD key [NX | XX] [CH] lon lat member ...`: ZADD with geohash scores.
fn geoadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mut flags = ZAddFlags::default();
    let mut at = 2;
    while at < args.len() {
        let word = args.get(at);
        if word.eq_ignore_ascii_case(b"nx") {
            flags.nx = true;
        } else if word.eq_ignore_ascii_case(b"xx") {
            flags.xx = true;
        } else if word.eq_ignore_ascii_case(b"ch") {
            flags.ch = true;
        } else {
            break;
        }
        at += 1;
    }
    let rest = args.len() - at;
    if !rest.is_multiple_of(3) || rest == 0 || (flags.nx && flags.xx) {
        return errors::SYNTAX;
    }
    let mut items = Vec::with_capacity(rest / 3);
    for i in (at..args.len()).step_by(3) {
        match lon_lat(args.get(i), args.get(i + 1)) {
            Ok((lon, lat)) => {
                let score = geo::score_of(lon, lat).unwrap_or_default();
                items.push((score, args.get(i + 2)));
            }
            Err(e) => return e,
        }
    }
    reply(
        ctx.shard.zadd(args.get(1), &items, flags),
        |out| match out {
            kiln_store::ZAddOutcome::Count(n) => Reply::Integer(n as i64),
            kiln_store::ZAddOutcome::Score(_) => Reply::Nil,
        },
    )
}

/// `GEODIST key member1 member2 [unit]`.
fn geodist(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => match unit(args.get(4)) {
            Ok(u) => u,
            Err(e) => return e,
        },
        _ => return errors::SYNTAX,
    };
    let members = [args.get(2), args.get(3)];
    reply(
        ctx.shard.zmscore(args.get(1), members),
        |scores| match scores[..] {
            [Some(a), Some(b)] => {
                let ((lon1, lat1), (lon2, lat2)) = (geo::position(a), geo::position(b));
                let d = geo::distance(lon1, lat1, lon2, lat2) / to_meters;
                Reply::bulk_from(geo::format_distance(d))
            }
            _ => Reply::Nil,
        },
    )
}

/// `GEOHASH key member...`: 11-character strings, nil for a missing member.
fn geohash(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.zmscore(args.get(1), args.iter().skip(2)), |v| {
        Reply::Array(
            v.into_iter()
                .map(|s| {
                    s.map_or(Reply::Nil, |s| {
                        Reply::Bulk(Bytes::copy_from_slice(&geo::hash_string(s)))
                    })
                })
                .collect(),
        )
    })
}

/// `[lon, lat]` as doubles.
fn coords(lon: f64, lat: f64) -> Reply {
    Reply::Array(vec![Reply::Double(lon), Reply::Double(lat)])
}

/// `GEOPOS key member...`: `[lon, lat]` pairs, a nil array for a missing member.
fn geopos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.zmscore(args.get(1), args.iter().skip(2)), |v| {
        Reply::Array(
            v.into_iter()
                .map(|s| {
                    s.map_or(Reply::NilArray, |s| {
                        let (lon, lat) = geo::position(s);
                        coords(lon, lat)
                    })
                })
                .collect(),
        )
    })
}

/// Which of the search commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS (`ro`: GEORADIUS_RO, no STORE).
    Radius { ro: bool },
    /// GEORADIUSBYMEMBER (and `_RO`).
    ByMember { ro: bool },
    /// GEOSEARCH.
    Search,
    /// GEOSEARCHSTORE.
    SearchStore,
}

impl Form {
    fn searches(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }

    fn takes_store(self) -> bool {
        matches!(
            self,
            Form::Radius { ro: false } | Form::ByMember { ro: false }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// A parsed search: the query (absent when the source key is missing and
/// its centre could not be read), and what to do with the points.
struct Search<'a> {
    centre: Option<(f64, f64)>,
    shape: Option<(Shape, f64)>,
    store: Option<&'a [u8]>,
    store_dist: bool,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    count: usize,
    any: bool,
}

/// Reads a search's arguments in Redis's order, looking up a FROMMEMBER
/// (or GEORADIUSBYMEMBER) member in the source when it exists.
fn parse_search<'a>(
    ctx: &mut Ctx<'_>,
    args: Args<'a>,
    form: Form,
    exists: bool,
) -> Result<Search<'a>, Reply> {
    let src = args.get(if form == Form::SearchStore { 2 } else { 1 });
    let mut s = Search {
        centre: None,
        shape: None,
        store: None,
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::None,
        count: 0,
        any: false,
    };
    let member_position =
        |ctx: &mut Ctx<'_>, member: &[u8]| match ctx.shard.geo_position(src, member) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(NO_MEMBER),
            Err(e) => Err(super::store_error(e)),
        };
    let base = match form {
        Form::Radius { .. } => {
            s.centre = Some(lon_lat(args.get(2), args.get(3))?);
            s.shape = Some(radius(args.get(4), args.get(5))?);
            6
        }
        // A missing source replies empty whatever the radius says.
        Form::ByMember { .. } if !exists => 5,
        Form::ByMember { .. } => {
            s.centre = Some(member_position(ctx, args.get(2))?);
            s.shape = Some(radius(args.get(3), args.get(4))?);
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            s.store = Some(args.get(1));
            3
        }
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut i = base;
    while i < args.len() {
        let word = args.get(i);
        let left = args.len() - i - 1;
        let is = |name: &[u8]| word.eq_ignore_ascii_case(name);
        if is(b"withdist") {
            s.with_dist = true;
        } else if is(b"withhash") {
            s.with_hash = true;
        } else if is(b"withcoord") {
            s.with_coord = true;
        } else if is(b"any") {
            s.any = true;
        } else if is(b"asc") {
            s.order = Order::Asc;
        } else if is(b"desc") {
            s.order = Order::Desc;
        } else if is(b"count") && left >= 1 {
            let n = int_arg(args.get(i + 1))?;
            if n <= 0 {
                return Err(Reply::error("ERR COUNT must be > 0"));
            }
            s.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(b"store") || is(b"storedist")) && left >= 1 && form.takes_store() {
            s.store = Some(args.get(i + 1));
            s.store_dist = is(b"storedist");
            i += 1;
        } else if is(b"storedist") && form == Form::SearchStore {
            s.store_dist = true;
        } else if is(b"frommember") && left >= 1 && form.searches() && !from_lonlat {
            if exists {
                s.centre = Some(member_position(ctx, args.get(i + 1))?);
            }
            from_member = true;
            i += 1;
        } else if is(b"fromlonlat") && left >= 2 && form.searches() && !from_member {
            s.centre = Some(lon_lat(args.get(i + 1), args.get(i + 2))?);
            from_lonlat = true;
            i += 2;
        } else if is(b"byradius") && left >= 2 && form.searches() && !by_box {
            s.shape = Some(radius(args.get(i + 1), args.get(i + 2))?);
            by_radius = true;
            i += 2;
        } else if is(b"bybox") && left >= 3 && form.searches() && !by_radius {
            s.shape = Some(bybox(args.get(i + 1), args.get(i + 2), args.get(i + 3))?);
            by_box = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if s.store.is_some() && (s.with_dist || s.with_hash || s.with_coord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Reply::error_owned(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let typed = String::from_utf8_lossy(args.get(0));
    if form.searches() && !(from_member || from_lonlat) {
        return Err(Reply::error_owned(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {typed}"
        )));
    }
    if form.searches() && !(by_radius || by_box) {
        return Err(Reply::error_owned(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {typed}"
        )));
    }
    if s.any && s.count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    Ok(s)
}

/// One found point as the reply shows it.
fn point_reply(p: GeoPoint, s: &Search<'_>, to_meters: f64) -> Reply {
    if !(s.with_dist || s.with_hash || s.with_coord) {
        return Reply::Bulk(p.member);
    }
    let mut parts = vec![Reply::Bulk(p.member)];
    if s.with_dist {
        parts.push(Reply::bulk_from(geo::format_distance(p.dist / to_meters)));
    }
    if s.with_hash {
        parts.push(Reply::Integer(p.score as i64));
    }
    if s.with_coord {
        parts.push(coords(p.lon, p.lat));
    }
    Reply::Array(parts)
}

fn search_generic(ctx: &mut Ctx<'_>, args: Args<'_>, form: Form) -> Reply {
    let src = args.get(if form == Form::SearchStore { 2 } else { 1 });
    let exists = match ctx.shard.geo_exists(src) {
        Ok(e) => e,
        Err(e) => return super::store_error(e),
    };
    let s = match parse_search(ctx, args, form, exists) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if let Some(dst) = s.store
        && form != Form::SearchStore
        && ctx.shared.slots.owner_of(dst) != ctx.core
    {
        return errors::CROSSSLOT;
    }
    let (Some((lon, lat)), Some((shape, to_meters)), true) = (s.centre, s.shape, exists) else {
        return match s.store {
            Some(dst) => Reply::Integer(ctx.shard.geo_store(dst, &[]) as i64),
            None => Reply::Array(Vec::new()),
        };
    };
    let query = Query {
        lon,
        lat,
        shape,
        to_meters,
    };
    let limit = if s.any { s.count } else { 0 };
    let mut points = match ctx.shard.geo_search(src, &query, limit) {
        Ok(p) => p,
        Err(e) => return super::store_error(e),
    };
    let order = match s.order {
        Order::None if s.count != 0 && !s.any => Order::Asc,
        o => o,
    };
    match order {
        Order::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::None => {}
    }
    if s.count != 0 {
        points.truncate(s.count);
    }
    match s.store {
        Some(dst) => {
            let items: Vec<(Bytes, f64)> = points
                .into_iter()
                .map(|p| {
                    let score = if s.store_dist {
                        p.dist / to_meters
                    } else {
                        p.score
                    };
                    (p.member, score)
                })
                .collect();
            Reply::Integer(ctx.shard.geo_store(dst, &items) as i64)
        }
        None => Reply::Array(
            points
                .into_iter()
                .map(|p| point_reply(p, &s, to_meters))
                .collect(),
        ),
    }
}

fn georadius(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::Radius { ro: false })
}

fn georadius_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::Radius { ro: true })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::ByMember { ro: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::ByMember { ro: true })
}

fn geosearch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    search_generic(ctx, args, Form::SearchStore)
}

#[cfg(test)]
mod tests {
    use kiln_net::Reply;

    use crate::commands::testbed::TestBed;

    fn bulk(s: &str) -> Reply {
        Reply::bulk_from(s)
    }

    #[test]
    fn geoadd_stores_redis_scores_and_searches_find_them() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&[
                "GEOADD",
                "g",
                "13.361389",
                "38.115556",
                "Palermo",
                "15.087269",
                "37.502669",
                "Catania"
            ]),
            Reply::Integer(2)
        );
        assert_eq!(
            bed.run(&["ZSCORE", "g", "Palermo"]),
            Reply::Double(3479099956230698.0)
        );
        assert_eq!(
            bed.run(&["GEODIST", "g", "Palermo", "Catania", "km"]),
            bulk("166.2742")
        );
        assert_eq!(
            bed.run(&["GEOHASH", "g", "Palermo", "nope"]),
            Reply::Array(vec![bulk("sqc8b49rny0"), Reply::Nil])
        );
        assert_eq!(
            bed.run(&[
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC",
                "WITHDIST"
            ]),
            Reply::Array(vec![
                Reply::Array(vec![bulk("Catania"), bulk("56.4413")]),
                Reply::Array(vec![bulk("Palermo"), bulk("190.4424")]),
            ])
        );
        assert_eq!(
            bed.run(&[
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMMEMBER",
                "Palermo",
                "BYBOX",
                "1",
                "1",
                "m"
            ]),
            Reply::Integer(1)
        );
        assert!(matches!(
            bed.run(&["GEOADD", "g", "181", "0", "x"]),
            Reply::Error(e) if e == "ERR invalid longitude,latitude pair 181.000000,0.000000"
        ));
    }
}
