//! Command help for `kiln-cli`, as redis-cli gives it: `help @<group>` lists
//! a group's commands, `help <command>` shows one, `help` says how.
//!
//! The text is a static table in the shape of redis-cli's `commands.def`
//! (argument synopsis, summary, the Redis version that added the command, its
//! group), kept in step with the server's `COMMAND DOCS`. It covers the
//! collection families (hashes, sets, sorted sets and lists), bitmaps,
//! HyperLogLog and geo.

/// One command's help entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandHelp {
    /// The command's name, upper case.
    pub name: &'static str,
    /// Its arguments, as `COMMAND DOCS` writes them.
    pub args: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The Redis version that added it.
    pub since: &'static str,
    /// Its group, as in `help @<group>`.
    pub group: &'static str,
}

/// The groups `help @<group>` knows, in the order `help` lists them.
pub const GROUPS: &[&str] = &[
    "hash",
    "list",
    "set",
    "sorted-set",
    "bitmap",
    "hyperloglog",
    "geo",
    "transactions",
    "pubsub",
];

/// Other names a group answers to (Redis's ACL categories among them).
const GROUP_ALIASES: &[(&str, &str)] = &[
    ("sortedset", "sorted-set"),
    ("sorted_set", "sorted-set"),
    ("zset", "sorted-set"),
];

/// Every command with help, group by group.
// One line per command reads as a table.
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, &str, &str)] = &[
    ("HSET", "key field value [field value ...]", "Creates or modifies the value of a field in a hash.", "2.0.0", "hash"),
    ("HSETNX", "key field value", "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0", "hash"),
    ("HMSET", "key field value [field value ...]", "Sets the values of multiple fields.", "2.0.0", "hash"),
    ("HGET", "key field", "Returns the value of a field in a hash.", "2.0.0", "hash"),
    ("HMGET", "key field [field ...]", "Returns the values of all fields in a hash.", "2.0.0", "hash"),
    ("HGETALL", "key", "Returns all fields and values in a hash.", "2.0.0", "hash"),
    ("HDEL", "key field [field ...]", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0", "hash"),
    ("HEXISTS", "key field", "Determines whether a field exists in a hash.", "2.0.0", "hash"),
    ("HLEN", "key", "Returns the number of fields in a hash.", "2.0.0", "hash"),
    ("HSTRLEN", "key field", "Returns the length of the value of a field.", "3.2.0", "hash"),
    ("HKEYS", "key", "Returns all fields in a hash.", "2.0.0", "hash"),
    ("HVALS", "key", "Returns all values in a hash.", "2.0.0", "hash"),
    ("HINCRBY", "key field increment", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0", "hash"),
    ("HINCRBYFLOAT", "key field increment", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0", "hash"),
    ("HRANDFIELD", "key [count [WITHVALUES]]", "Returns one or more random fields from a hash.", "6.2.0", "hash"),
    ("HSCAN", "key cursor [MATCH pattern] [COUNT count]", "Iterates over fields and values of a hash.", "2.8.0", "hash"),
    ("SADD", "key member [member ...]", "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "set"),
    ("SREM", "key member [member ...]", "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "set"),
    ("SMEMBERS", "key", "Returns all members of a set.", "1.0.0", "set"),
    ("SISMEMBER", "key member", "Determines whether a member belongs to a set.", "1.0.0", "set"),
    ("SMISMEMBER", "key member [member ...]", "Determines whether multiple members belong to a set.", "6.2.0", "set"),
    ("SCARD", "key", "Returns the number of members in a set.", "1.0.0", "set"),
    ("SPOP", "key [count]", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0", "set"),
    ("SRANDMEMBER", "key [count]", "Get one or multiple random members from a set", "1.0.0", "set"),
    ("SMOVE", "source destination member", "Moves a member from one set to another.", "1.0.0", "set"),
    ("SINTER", "key [key ...]", "Returns the intersect of multiple sets.", "1.0.0", "set"),
    ("SINTERSTORE", "destination key [key ...]", "Stores the intersect of multiple sets in a key.", "1.0.0", "set"),
    ("SUNION", "key [key ...]", "Returns the union of multiple sets.", "1.0.0", "set"),
    ("SUNIONSTORE", "destination key [key ...]", "Stores the union of multiple sets in a key.", "1.0.0", "set"),
    ("SDIFF", "key [key ...]", "Returns the difference of multiple sets.", "1.0.0", "set"),
    ("SDIFFSTORE", "destination key [key ...]", "Stores the difference of multiple sets in a key.", "1.0.0", "set"),
    ("SINTERCARD", "numkeys key [key ...] [LIMIT limit]", "Returns the number of members of the intersect of multiple sets.", "7.0.0", "set"),
    ("SSCAN", "key cursor [MATCH pattern] [COUNT count]", "Iterates over members of a set.", "2.8.0", "set"),
    ("ZADD", "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", "sorted-set"),
    ("ZINCRBY", "key increment member", "Increments the score of a member in a sorted set.", "1.2.0", "sorted-set"),
    ("ZREM", "key member [member ...]", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", "sorted-set"),
    ("ZSCORE", "key member", "Returns the score of a member in a sorted set.", "1.2.0", "sorted-set"),
    ("ZMSCORE", "key member [member ...]", "Returns the score of one or more members in a sorted set.", "6.2.0", "sorted-set"),
    ("ZCARD", "key", "Returns the number of members in a sorted set.", "1.2.0", "sorted-set"),
    ("ZCOUNT", "key min max", "Returns the count of members in a sorted set that have scores within a range.", "2.0.0", "sorted-set"),
    ("ZLEXCOUNT", "key min max", "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", "sorted-set"),
    ("ZRANGE", "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]", "Returns members in a sorted set within a range of indexes.", "1.2.0", "sorted-set"),
    ("ZRANGESTORE", "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]", "Stores a range of members from sorted set in a key.", "6.2.0", "sorted-set"),
    ("ZRANGEBYSCORE", "key min max [WITHSCORES] [LIMIT offset count]", "Returns members in a sorted set within a range of scores.", "1.0.5", "sorted-set"),
    ("ZREVRANGEBYSCORE", "key max min [WITHSCORES] [LIMIT offset count]", "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", "sorted-set"),
    ("ZRANGEBYLEX", "key min max [LIMIT offset count]", "Returns members in a sorted set within a lexicographical range.", "2.8.9", "sorted-set"),
    ("ZREVRANGEBYLEX", "key max min [LIMIT offset count]", "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", "sorted-set"),
    ("ZREVRANGE", "key start stop [WITHSCORES]", "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", "sorted-set"),
    ("ZRANK", "key member [WITHSCORE]", "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", "sorted-set"),
    ("ZREVRANK", "key member [WITHSCORE]", "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", "sorted-set"),
    ("ZPOPMIN", "key [count]", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "sorted-set"),
    ("ZPOPMAX", "key [count]", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", "sorted-set"),
    ("ZMPOP", "numkeys key [key ...] MIN | MAX [COUNT count]", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "7.0.0", "sorted-set"),
    ("ZRANDMEMBER", "key [count [WITHSCORES]]", "Returns one or more random members from a sorted set.", "6.2.0", "sorted-set"),
    ("ZUNION", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]", "Returns the union of multiple sorted sets.", "6.2.0", "sorted-set"),
    ("ZINTER", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]", "Returns the intersect of multiple sorted sets.", "6.2.0", "sorted-set"),
    ("ZDIFF", "numkeys key [key ...] [WITHSCORES]", "Returns the difference between multiple sorted sets.", "6.2.0", "sorted-set"),
    ("ZUNIONSTORE", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]", "Stores the union of multiple sorted sets in a key.", "2.0.0", "sorted-set"),
    ("ZINTERSTORE", "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]", "Stores the intersect of multiple sorted sets in a key.", "2.0.0", "sorted-set"),
    ("ZDIFFSTORE", "destination numkeys key [key ...]", "Stores the difference of multiple sorted sets in a key.", "6.2.0", "sorted-set"),
    ("ZINTERCARD", "numkeys key [key ...] [LIMIT limit]", "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0", "sorted-set"),
    ("ZREMRANGEBYSCORE", "key min max", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", "sorted-set"),
    ("ZREMRANGEBYRANK", "key start stop", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", "sorted-set"),
    ("ZREMRANGEBYLEX", "key min max", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", "sorted-set"),
    ("ZSCAN", "key cursor [MATCH pattern] [COUNT count]", "Iterates over members and scores of a sorted set.", "2.8.0", "sorted-set"),
    ("BZPOPMIN", "key [key ...] timeout", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "sorted-set"),
    ("BZPOPMAX", "key [key ...] timeout", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "sorted-set"),
    ("BZMPOP", "timeout numkeys key [key ...] MIN | MAX [COUNT count]", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", "sorted-set"),
    ("LPUSH", "key element [element ...]", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "list"),
    ("RPUSH", "key element [element ...]", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "list"),
    ("LPUSHX", "key element [element ...]", "Prepends one or more elements to a list only when the list exists.", "2.2.0", "list"),
    ("RPUSHX", "key element [element ...]", "Appends an element to a list only when the list exists.", "2.2.0", "list"),
    ("LPOP", "key [count]", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "list"),
    ("RPOP", "key [count]", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", "1.0.0", "list"),
    ("LRANGE", "key start stop", "Returns a range of elements from a list.", "1.0.0", "list"),
    ("LINDEX", "key index", "Returns an element from a list by its index.", "1.0.0", "list"),
    ("LSET", "key index element", "Sets the value of an element in a list by its index.", "1.0.0", "list"),
    ("LINSERT", "key BEFORE | AFTER pivot element", "Inserts an element before or after another element in a list.", "2.2.0", "list"),
    ("LLEN", "key", "Returns the length of a list.", "1.0.0", "list"),
    ("LREM", "key count element", "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "list"),
    ("LTRIM", "key start stop", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "list"),
    ("LPOS", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]", "Returns the index of matching elements in a list.", "6.0.6", "list"),
    ("LMOVE", "source destination LEFT | RIGHT LEFT | RIGHT", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0", "list"),
    ("RPOPLPUSH", "source destination", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0", "list"),
    ("LMPOP", "numkeys key [key ...] LEFT | RIGHT [COUNT count]", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", "list"),
    ("BLPOP", "key [key ...] timeout", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "list"),
    ("BRPOP", "key [key ...] timeout", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "list"),
    ("BLMOVE", "source destination LEFT | RIGHT LEFT | RIGHT timeout", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", "list"),
    ("BLMPOP", "timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", "list"),
    ("BRPOPLPUSH", "source destination timeout", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", "list"),
    ("SETBIT", "key offset value", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "2.2.0", "bitmap"),
    ("GETBIT", "key offset", "Returns a bit value by offset.", "2.2.0", "bitmap"),
    ("BITCOUNT", "key [start end [BYTE | BIT]]", "Counts the number of set bits (population counting) in a string.", "2.6.0", "bitmap"),
    ("BITPOS", "key bit [start [end [BYTE | BIT]]]", "Finds the first set (1) or clear (0) bit in a string.", "2.8.7", "bitmap"),
    ("BITOP", "operation destkey key [key ...]", "Performs bitwise operations on multiple strings, and stores the result.", "2.6.0", "bitmap"),
    ("BITFIELD", "key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | [OVERFLOW WRAP | SAT | FAIL] INCRBY encoding offset increment ...]", "Performs arbitrary bitfield integer operations on strings.", "3.2.0", "bitmap"),
    ("BITFIELD_RO", "key [GET encoding offset [GET encoding offset ...]]", "Performs arbitrary read-only bitfield integer operations on strings.", "6.0.0", "bitmap"),
    ("PFADD", "key [element [element ...]]", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "2.8.9", "hyperloglog"),
    ("PFCOUNT", "key [key ...]", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", "2.8.9", "hyperloglog"),
    ("PFMERGE", "destkey [sourcekey [sourcekey ...]]", "Merges one or more HyperLogLog values into a single key.", "2.8.9", "hyperloglog"),
    ("GEOADD", "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", "3.2.0", "geo"),
    ("GEODIST", "key member1 member2 [M | KM | FT | MI]", "Returns the distance between two members of a geospatial index.", "3.2.0", "geo"),
    ("GEOHASH", "key [member [member ...]]", "Returns members from a geospatial index as geohash strings.", "3.2.0", "geo"),
    ("GEOPOS", "key [member [member ...]]", "Returns the longitude and latitude of members from a geospatial index.", "3.2.0", "geo"),
    ("GEORADIUS", "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", "3.2.0", "geo"),
    ("GEORADIUS_RO", "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]", "Returns members from a geospatial index that are within a distance from a coordinate.", "3.2.10", "geo"),
    ("GEORADIUSBYMEMBER", "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", "3.2.0", "geo"),
    ("GEORADIUSBYMEMBER_RO", "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]", "Returns members from a geospatial index that are within a distance from a member.", "3.2.10", "geo"),
    ("GEOSEARCH", "key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]", "Queries a geospatial index for members inside an area of a box or a circle.", "6.2.0", "geo"),
    ("GEOSEARCHSTORE", "destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", "6.2.0", "geo"),
    ("MULTI", "", "Starts a transaction.", "1.2.0", "transactions"),
    ("EXEC", "", "Executes all commands in a transaction.", "1.2.0", "transactions"),
    ("DISCARD", "", "Discards a transaction.", "2.0.0", "transactions"),
    ("WATCH", "key [key ...]", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "transactions"),
    ("UNWATCH", "", "Forgets about watched keys of a transaction.", "2.2.0", "transactions"),
    ("SUBSCRIBE", "channel [channel ...]", "Listens for messages published to channels.", "2.0.0", "pubsub"),
    ("UNSUBSCRIBE", "[channel [channel ...]]", "Stops listening to messages posted to channels.", "2.0.0", "pubsub"),
    ("PSUBSCRIBE", "pattern [pattern ...]", "Listens for messages published to channels that match one or more patterns.", "2.0.0", "pubsub"),
    ("PUNSUBSCRIBE", "[pattern [pattern ...]]", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "pubsub"),
    ("SSUBSCRIBE", "shardchannel [shardchannel ...]", "Listens for messages published to shard channels.", "7.0.0", "pubsub"),
    ("SUNSUBSCRIBE", "[shardchannel [shardchannel ...]]", "Stops listening to messages posted to shard channels.", "7.0.0", "pubsub"),
    ("PUBLISH", "channel message", "Posts a message to a channel.", "2.0.0", "pubsub"),
    ("SPUBLISH", "shardchannel message", "Post a message to a shard channel", "7.0.0", "pubsub"),
    ("PUBSUB", "CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] | SHARDNUMSUB [shardchannel ...]", "Introspects the channels and patterns subscribed to.", "2.8.0", "pubsub"),
];

/// The help entries, in table order.
pub fn commands() -> impl Iterator<Item = CommandHelp> {
    TABLE
        .iter()
        .map(|&(name, args, summary, since, group)| CommandHelp {
            name,
            args,
            summary,
            since,
            group,
        })
}

/// The help entry of a command, any case.
pub fn command(name: &str) -> Option<CommandHelp> {
    commands().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// The group a `help @<group>` topic names, aliases and case allowed.
pub fn group(topic: &str) -> Option<&'static str> {
    let topic = topic.to_ascii_lowercase();
    GROUPS.iter().copied().find(|g| *g == topic).or_else(|| {
        GROUP_ALIASES
            .iter()
            .find(|(alias, _)| *alias == topic)
            .map(|(_, g)| *g)
    })
}

fn entry(command: &CommandHelp, with_group: bool, out: &mut String) {
    out.push_str(&format!("\n  {} {}\n", command.name, command.args));
    out.push_str(&format!("  summary: {}\n", command.summary));
    out.push_str(&format!("  since: {}\n", command.since));
    if with_group {
        out.push_str(&format!("  group: {}\n", command.group));
    }
}

/// The text for `help [topic]` (its words after `help`), ending in a newline.
pub fn render(topic: &[String]) -> String {
    let mut out = String::new();
    match topic.first().map(String::as_str) {
        None => {
            out.push_str(concat!("kiln-cli ", env!("CARGO_PKG_VERSION"), "\n"));
            out.push_str("To get help about Kiln commands type:\n");
            out.push_str("      \"help @<group>\" to get a list of commands in <group>\n");
            out.push_str("      \"help <command>\" for help on <command>\n");
            out.push_str(&format!("Groups: {}\n", GROUPS.join(", ")));
            out.push_str("To quit: quit or exit\n");
        }
        Some(word) if word.starts_with('@') => match group(&word[1..]) {
            Some(name) => {
                for command in commands().filter(|c| c.group == name) {
                    entry(&command, false, &mut out);
                }
                out.push('\n');
            }
            None => out.push_str(&format!(
                "No such group: {word}. Groups: {}\n",
                GROUPS
                    .iter()
                    .map(|g| format!("@{g}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Some(word) => match command(word) {
            Some(command) => {
                entry(&command, true, &mut out);
                out.push('\n');
            }
            None => out.push_str(&format!(
                "No help for '{word}'. Try \"help @<group>\" ({}).\n",
                GROUPS.join(", ")
            )),
        },
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(line: &str) -> String {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        render(&words)
    }

    #[test]
    fn one_command_like_redis_cli() {
        assert_eq!(
            help("hset"),
            "\n  HSET key field value [field value ...]\n  \
             summary: Creates or modifies the value of a field in a hash.\n  \
             since: 2.0.0\n  group: hash\n\n"
        );
        assert!(help("ZADD").contains("ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member"));
        assert!(
            help("blmove").contains("BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout")
        );
        assert!(help("nosuch").starts_with("No help for 'nosuch'."));
    }

    #[test]
    fn groups_list_their_commands_in_order() {
        let hash = help("@hash");
        assert!(
            hash.starts_with("\n  HSET key field value [field value ...]\n"),
            "{hash}"
        );
        assert!(!hash.contains("group:"));
        assert_eq!(hash.matches("summary:").count(), 16);
        for (topic, first, count) in [
            ("@set", "SADD", 17),
            ("@sorted-set", "ZADD", 35),
            ("@zset", "ZADD", 35),
            ("@SortedSet", "ZADD", 35),
            ("@list", "LPUSH", 22),
            ("@bitmap", "SETBIT", 7),
            ("@hyperloglog", "PFADD", 3),
            ("@geo", "GEOADD", 10),
            ("@transactions", "MULTI", 5),
            ("@pubsub", "SUBSCRIBE", 9),
        ] {
            let text = help(topic);
            assert!(
                text.starts_with(&format!("\n  {first} ")),
                "{topic}: {text}"
            );
            assert_eq!(text.matches("summary:").count(), count, "{topic}");
        }
        assert!(help("@strings").starts_with("No such group: @strings."));
        assert!(help("").contains("\"help @<group>\""));
    }

    #[test]
    fn every_command_once_in_a_known_group() {
        let mut names: Vec<&str> = commands().map(|c| c.name).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a command listed twice");
        for command in commands() {
            assert!(GROUPS.contains(&command.group), "{}", command.name);
            assert_eq!(command.name, command.name.to_ascii_uppercase());
            // MULTI, EXEC, DISCARD and UNWATCH take no arguments.
            assert!(!command.summary.is_empty());
        }
    }
}
