import RuleLang

/// `dispatch` and `next`: the candidate rules of one rule index for one packet, as (position,
/// end) cursors into the candidate lists in `program.words`, one list per key table that has
/// one for the packet. It needs no register file, so the lean loop (`FieldTest.run`) runs an
/// indexed rulelist whose rules are field tests without a `Machine`; a `Machine` takes the lists
/// over where that loop stops.
struct CandidateLists {
  /// Borrowed for the evaluation, as by `Machine`.
  unowned(unsafe) let program: VerifiedProgram
  let packet: UnsafePointer<PacketView>
  /// `2 * (RuleIndex.maxTables + 1)` words of the evaluation's stack block.
  let cursors: UnsafeMutablePointer<Int>
  var count = 0
  /// The constant index of the rule index whose candidates the cursors hold, or -1.
  var active = -1

  static var cursorCount: Int { 2 * (RuleIndex.maxTables + 1) }

  init(
    program: VerifiedProgram, packet: UnsafePointer<PacketView>,
    cursors: UnsafeMutablePointer<Int>
  ) {
    self.program = program
    self.packet = packet
    self.cursors = cursors
  }

  /// `dispatch K[k]` at `pc`: collects the packet's candidates; the first one's pc. The lean
  /// loop's copy, with the lookups inlined.
  @inline(__always) mutating func dispatch(_ k: Int, from pc: Int) -> Int {
    let index = indexOf(k)
    collect(k, index)
    return forward(nextCandidate(index, after: -1), from: pc, index)
  }

  /// The same, out of line: for `Machine`, which runs dispatch rarely.
  @inline(never) mutating func dispatchCall(_ k: Int, from pc: Int) -> Int {
    let index = indexOf(k)
    collectCall(k, index)
    return forward(nextCandidate(index, after: -1), from: pc, index)
  }

  /// `next K[k] after rule` at `pc`: the pc of the first candidate after `rule`.
  @inline(__always) mutating func next(_ k: Int, after rule: Int, from pc: Int) -> Int {
    let index = indexOf(k)
    // Our compiler only emits `next` after its index's `dispatch`; any other program gets the
    // same answer by collecting the candidates here.
    if active != k { collectCall(k, index) }
    return forward(nextCandidate(index, after: rule), from: pc, index)
  }

  @inline(__always) func indexOf(_ k: Int) -> UnsafePointer<VerifiedProgram.FlatIndex> {
    UnsafePointer(program.indexes.baseAddress! + program.slots[k].extra)
  }

  /// Jumps go forward only, whatever the tables say: the verified end is the fallback.
  @inline(__always) func forward(
    _ target: Int, from pc: Int, _ index: UnsafePointer<VerifiedProgram.FlatIndex>
  ) -> Int {
    target > pc ? target : index.pointee.end
  }

  @inline(never) mutating func collectCall(
    _ k: Int, _ index: UnsafePointer<VerifiedProgram.FlatIndex>
  ) {
    collect(k, index)
  }

  /// Sets up the cursors of index K[k] for this packet: one lookup per key table.
  @inline(__always)
  mutating func collect(_ k: Int, _ index: UnsafePointer<VerifiedProgram.FlatIndex>) {
    active = k
    count = 0
    if index.pointee.alwaysCount > 0 {
      cursors[0] = index.pointee.always
      cursors[1] = index.pointee.always + index.pointee.alwaysCount
      count = 1
    }
    let words = program.words.baseAddress!
    let view = UnsafeRawPointer(packet)
    var table = UnsafePointer(program.tables.baseAddress! + index.pointee.firstTable)
    for _ in 0..<index.pointee.tableCount {
      defer { table += 1 }
      // The (start, count) pair of the packet's candidate list in this table, in `words`.
      let pair: Int
      switch table.pointee.lookup {
      case .portDirect:
        let x = Int(view.load(fromByteOffset: table.pointee.fieldOffset, as: Int32.self))
        // Absent (-1) and out-of-table keys have no interval.
        guard UInt(bitPattern: x) < UInt(DirectTables.keys) else { continue }
        let entry = Int(words[table.pointee.direct &+ x])
        guard entry != 0 else { continue }
        pair = table.pointee.lists &+ 2 &* (entry &- 1)
      case .v4Buckets:
        guard packet.pointee.hasAddresses else { continue }
        let x = view.load(fromByteOffset: table.pointee.fieldOffset, as: IPAddress.self)
        guard x.isV4, let j = v4Interval(table, x.v4, words) else { continue }
        pair = table.pointee.lists &+ 2 &* j
      case .intSearch:
        let x = Int(view.load(fromByteOffset: table.pointee.fieldOffset, as: Int32.self))
        guard x >= 0,
          let j = interval(
            of: Int64(x), in: program.ranges.baseAddress! + 2 * table.pointee.bounds,
            count: table.pointee.count)
        else { continue }
        pair = table.pointee.lists &+ 2 &* j
      case .ipSearch:
        guard packet.pointee.hasAddresses,
          let j = interval(
            of: view.load(fromByteOffset: table.pointee.fieldOffset, as: IPAddress.self),
            in: program.ipRanges.baseAddress! + 2 * table.pointee.bounds,
            count: table.pointee.count)
        else { continue }
        pair = table.pointee.lists &+ 2 &* j
      case .trie:
        guard let node = trieNode(table, words) else { continue }
        pair = table.pointee.lists &+ 2 &* node
      }
      let start = Int(words[pair])
      let length = Int(words[pair &+ 1])
      if length == 0 { continue }
      cursors[2 &* count] = start
      cursors[2 &* count &+ 1] = start &+ length
      count &+= 1
    }
  }

  /// The pc of the first candidate after section rule `after`, or the index's end.
  @inline(__always) mutating func nextCandidate(
    _ index: UnsafePointer<VerifiedProgram.FlatIndex>, after: Int
  ) -> Int {
    let words = program.words.baseAddress!
    var best = Int.max
    for l in 0..<count {
      var pos = cursors[2 &* l]
      let end = cursors[2 &* l &+ 1]
      while pos < end, Int(words[pos]) <= after { pos &+= 1 }
      cursors[2 &* l] = pos
      if pos < end { best = min(best, Int(words[pos])) }
    }
    // A candidate beyond this index's rules (only a hand-made program can get here) ends it.
    return best >= index.pointee.ruleCount
      ? index.pointee.end : Int(words[index.pointee.rulePCs &+ best])
  }

  /// The interval of an IPv4 table (`DirectTables.addIPv4Table`) holding `key`: a search among
  /// the intervals of the key's top-16-bit bucket only.
  @inline(__always) func v4Interval(
    _ t: UnsafePointer<VerifiedProgram.FlatTable>, _ key: UInt32,
    _ words: UnsafeMutablePointer<UInt32>
  ) -> Int? {
    let bucket = t.pointee.direct &+ Int(key >> 16)
    var lo = Int(words[bucket])
    // The interval at the next bucket's first entry reaches that bucket, so it is past `key`.
    var hi = min(Int(words[bucket &+ 1]) &+ 1, t.pointee.count)
    // The first interval whose upper bound is at least `key`.
    let bounds = words + t.pointee.v4Bounds
    while lo < hi {
      let mid = (lo &+ hi) >> 1
      if bounds[2 &* mid &+ 1] < key { lo = mid &+ 1 } else { hi = mid }
    }
    return lo < t.pointee.count && bounds[2 &* lo] <= key ? lo : nil
  }

  /// The deepest trie node the field's bytes reach (every node's list includes its ancestors').
  @inline(__always) func trieNode(
    _ t: UnsafePointer<VerifiedProgram.FlatTable>, _ words: UnsafeMutablePointer<UInt32>
  ) -> Int? {
    guard
      let bytes = UnsafeRawPointer(packet).load(
        fromByteOffset: t.pointee.fieldOffset, as: UnsafeRawBufferPointer?.self)
    else { return nil }
    var node = 0
    var i = 0
    if t.pointee.rootChildren >= 0, bytes.count > 0 {
      let child = Int(words[t.pointee.rootChildren &+ Int(bytes[0])])
      if child == 0 { return 0 }
      node = child &- 1
      i = 1
    }
    while i < bytes.count {
      let c = UInt32(bytes[i])
      let edges = t.pointee.edges &+ 2 &* node
      let edgeStart = Int(words[edges])
      var lo = 0
      var hi = Int(words[edges &+ 1])
      var found = -1
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        let b = words[edgeStart &+ 2 &* mid]
        if b == c {
          found = Int(words[edgeStart &+ 2 &* mid &+ 1])
          break
        }
        if b < c { lo = mid &+ 1 } else { hi = mid }
      }
      if found < 0 { break }
      node = found
      i &+= 1
    }
    return node
  }
}

/// Which of `count` sorted, disjoint inclusive intervals (bounds stored lo, hi, lo, hi, …) holds
/// `x`, if any: a binary search for the last lower bound not above `x`.
@inline(__always) func interval<T: Comparable>(
  of x: T, in bounds: UnsafePointer<T>, count: Int
) -> Int? {
  if count == 1 {
    // One range or CIDR, the common case: no search.
    return bounds[0] <= x && x <= bounds[1] ? 0 : nil
  }
  var lo = 0
  var hi = count
  while lo < hi {
    let mid = (lo + hi) / 2
    if bounds[2 * mid] <= x { lo = mid + 1 } else { hi = mid }
  }
  return lo > 0 && x <= bounds[2 * (lo - 1) + 1] ? lo - 1 : nil
}
