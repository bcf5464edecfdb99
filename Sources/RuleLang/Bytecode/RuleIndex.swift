/// Rule indexing: so that 10,000 rules cost about what 10 do.
///
/// Rules whose condition starts with (or is) a test of a packet field against constants — a port
/// equal to or in a set or range, an address in CIDRs or ranges or with a text prefix, bytes with
/// a constant prefix — get that field's value as a *key*. For each keyed field the index holds a
/// table from field values to the sorted list of rules whose key admits that value (interval
/// tables for ports and addresses, a trie for prefixes). Rules without a key are always
/// candidates. `dispatch` jumps to the first candidate for the packet; when a candidate's full
/// condition fails, `next` jumps to the next one, so first-match order is kept and only candidates
/// are tried. Candidate lists over-approximate (the rule's own code still tests everything), and
/// every jump goes forward because rules are laid out in order.
public struct RuleIndex: Sendable, Hashable {
  /// The code address of each rule of the section, in order (strictly increasing).
  public var rulePCs: [UInt32]
  /// Where evaluation goes when no candidate is left.
  public var end: UInt32
  /// Rules (section-local numbers) that are candidates for every packet, sorted.
  public var always: [UInt32]
  public var intTables: [IntKeyTable]
  public var ipTables: [IPKeyTable]
  public var prefixTables: [PrefixKeyTable]

  /// The most key tables an index may have (the VM keeps one cursor per table).
  public static let maxTables = 7

  public var tableCount: Int { intTables.count + ipTables.count + prefixTables.count }
}

/// Disjoint sorted intervals of an int field, each with its candidate list.
public struct IntKeyTable: Sendable, Hashable {
  public var field: Field
  public var lo: [Int64]
  public var hi: [Int64]
  public var lists: [[UInt32]]
}

public struct IPKeyTable: Sendable, Hashable {
  public var field: Field
  public var lo: [IPAddress]
  public var hi: [IPAddress]
  public var lists: [[UInt32]]
}

/// A trie of byte prefixes of a bytes field. Node 0 is the root; each node's list holds the
/// rules whose prefix is the node's path or a prefix of it.
public struct PrefixKeyTable: Sendable, Hashable {
  public var field: Field
  /// Per node: its edges, sorted by byte.
  public var edgeBytes: [[UInt8]]
  public var edgeTargets: [[UInt32]]
  public var lists: [[UInt32]]
}

/// What a rule's first indexable test admits.
enum RuleKey {
  case ints(Field, [ClosedRange<Int64>])
  case ips(Field, [IPInterval])
  case prefix(Field, [UInt8])
}

enum RuleIndexBuilder {
  /// The most candidate-list entries a table may hold before its field is left unindexed.
  static let maxListEntries = 2_000_000

  static func build(keys: [RuleKey?], rulePCs: [UInt32], end: UInt32) -> RuleIndex {
    var always: [UInt32] = []
    var ints: [Field: [(Int, [ClosedRange<Int64>])]] = [:]
    var ips: [Field: [(Int, [IPInterval])]] = [:]
    var prefixes: [Field: [(Int, [UInt8])]] = [:]
    for (i, key) in keys.enumerated() {
      switch key {
      case .none: always.append(UInt32(i))
      case .ints(let f, let rs)?: ints[f, default: []].append((i, rs))
      case .ips(let f, let rs)?: ips[f, default: []].append((i, rs))
      case .prefix(let f, let p)?: prefixes[f, default: []].append((i, p))
      }
    }
    var index = RuleIndex(
      rulePCs: rulePCs, end: end, always: [], intTables: [], ipTables: [], prefixTables: [])
    var budget = RuleIndex.maxTables
    index.intTables = tables(ints, &budget, &always) { f, entries in
      sweep(
        entries.map { ($0.0, $0.1.map { ($0.lowerBound, $0.upperBound) }) }, maxValue: Int64.max,
        successor: { $0 == Int64.max ? nil : $0 + 1 }, predecessor: { $0 - 1 }
      ).map { IntKeyTable(field: f, lo: $0.lo, hi: $0.hi, lists: $0.lists) }
    }
    index.ipTables = tables(ips, &budget, &always) { f, entries in
      let maxIP = IPAddress(high: ~0, low: ~0)
      return sweep(
        entries.map { ($0.0, $0.1.map { ($0.lo, $0.hi) }) }, maxValue: maxIP,
        successor: { $0 == maxIP ? nil : successor($0) }, predecessor: predecessor
      ).map { IPKeyTable(field: f, lo: $0.lo, hi: $0.hi, lists: $0.lists) }
    }
    index.prefixTables = tables(prefixes, &budget, &always, prefixTable)
    index.always = always.sorted()
    return index
  }

  /// One table per field, fields with the most keyed rules first, while the budget lasts; the
  /// rules of a field left without a table are candidates for every packet.
  static func tables<Key, Table>(
    _ byField: [Field: [(Int, Key)]], _ budget: inout Int, _ always: inout [UInt32],
    _ make: (Field, [(Int, Key)]) -> Table?
  ) -> [Table] {
    var out: [Table] = []
    let order = byField.sorted {
      ($1.value.count, $0.key.rawValue) < ($0.value.count, $1.key.rawValue)
    }
    for (f, entries) in order {
      if budget > 0, let t = make(f, entries) {
        out.append(t)
        budget -= 1
      } else {
        always += entries.map { UInt32($0.0) }
      }
    }
    return out
  }

  /// Elementary intervals by a sweep over the bounds: each gets the sorted list of rules covering
  /// it, and adjacent ones with equal lists merge. Nil when the lists grow past the budget.
  static func sweep<Bound: Comparable>(
    _ entries: [(Int, [(Bound, Bound)])], maxValue: Bound, successor: (Bound) -> Bound?,
    predecessor: (Bound) -> Bound
  ) -> (lo: [Bound], hi: [Bound], lists: [[UInt32]])? {
    var events: [(Bound, Bool, Int)] = []  // (position, starts, rule); an end is at hi's successor
    for (rule, rs) in entries {
      for (lo, hi) in rs {
        events.append((lo, true, rule))
        if let after = successor(hi) { events.append((after, false, rule)) }
      }
    }
    events.sort { $0.0 < $1.0 }
    var active: [Int: Int] = [:]  // rule → how many of its intervals cover the point
    var lo: [Bound] = []
    var hi: [Bound] = []
    var lists: [[UInt32]] = []
    var total = 0
    var i = 0
    while i < events.count {
      let x = events[i].0
      while i < events.count, events[i].0 == x {
        let (_, starts, rule) = events[i]
        if starts {
          active[rule, default: 0] += 1
        } else {
          active[rule]! -= 1
          if active[rule] == 0 { active[rule] = nil }
        }
        i += 1
      }
      guard !active.isEmpty else { continue }
      // The segment runs up to the bound before the next event.
      let last = i < events.count ? predecessor(events[i].0) : maxValue
      let list = active.keys.sorted().map(UInt32.init)
      total += list.count
      if total > maxListEntries { return nil }
      if let prev = lists.last, prev == list, successor(hi[hi.count - 1]) == x {
        hi[hi.count - 1] = last
      } else {
        lo.append(x)
        hi.append(last)
        lists.append(list)
      }
    }
    return (lo, hi, lists)
  }

  static func successor(_ a: IPAddress) -> IPAddress {
    a.low == ~0 ? IPAddress(high: a.high &+ 1, low: 0) : IPAddress(high: a.high, low: a.low + 1)
  }

  static func predecessor(_ a: IPAddress) -> IPAddress {
    a.low == 0 ? IPAddress(high: a.high &- 1, low: ~0) : IPAddress(high: a.high, low: a.low - 1)
  }

  static func prefixTable(_ f: Field, _ entries: [(Int, [UInt8])]) -> PrefixKeyTable? {
    var children: [[UInt8: Int]] = [[:]]
    var own: [[UInt32]] = [[]]
    for (rule, prefix) in entries {
      var node = 0
      for b in prefix {
        if let c = children[node][b] {
          node = c
        } else {
          children.append([:])
          own.append([])
          children[node][b] = children.count - 1
          node = children.count - 1
        }
      }
      own[node].append(UInt32(rule))
    }
    // Each node inherits its ancestors' rules (breadth-first, parents before children).
    var lists = [[UInt32]](repeating: [], count: children.count)
    lists[0] = own[0].sorted()
    var queue = [0]
    var total = lists[0].count
    var head = 0
    while head < queue.count {
      let node = queue[head]
      head += 1
      for (_, c) in children[node] {
        lists[c] = merge(lists[node], own[c].sorted())
        total += lists[c].count
        if total > maxListEntries { return nil }
        queue.append(c)
      }
    }
    var t = PrefixKeyTable(field: f, edgeBytes: [], edgeTargets: [], lists: lists)
    for node in 0..<children.count {
      let edges = children[node].sorted { $0.key < $1.key }
      t.edgeBytes.append(edges.map(\.key))
      t.edgeTargets.append(edges.map { UInt32($0.value) })
    }
    return t
  }

  static func merge(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
    var out: [UInt32] = []
    out.reserveCapacity(a.count + b.count)
    var i = 0
    var j = 0
    while i < a.count || j < b.count {
      if j == b.count || (i < a.count && a[i] < b[j]) {
        out.append(a[i])
        i += 1
      } else {
        if out.last != b[j] { out.append(b[j]) }
        j += 1
      }
    }
    return out
  }
}

extension RuleCompiler {
  /// The key of a rule: the first of its `and`-ed tests that an index can serve.
  func ruleKey(_ rule: Rule) -> RuleKey? {
    guard let cond = rule.condition else { return nil }
    if case .bool(true)? = cond.constant { return nil }
    for c in ExprPrinter.conjuncts(cond) {
      if let k = key(of: c) { return k }
    }
    return nil
  }

  func key(of e: Expr) -> RuleKey? {
    guard case .binary(let op, var l, var r, _) = e.kind else { return nil }
    if l.constant != nil, r.constant == nil, op == .equal { swap(&l, &r) }
    guard let v = r.constant else { return nil }
    if let f = intField(l) {
      switch op {
      case .equal, .in:
        if let rs = Intervals.ints(v) { return .ints(f, rs) }
      default: break
      }
      return nil
    }
    if let f = ipField(l) {
      switch (op, v) {
      case (.equal, _), (.in, _):
        if let rs = Intervals.ips(v) { return .ips(f, rs) }
      case (.starts, .string(let s)) where !s.contains(":"):
        return .ips(f, Intervals.ipv4TextPrefix(s))
      default: break
      }
      return nil
    }
    if let f = bytesField(l), op == .starts || op == .equal, let b = bytesOf(v) {
      return .prefix(f, b)
    }
    return nil
  }
}
