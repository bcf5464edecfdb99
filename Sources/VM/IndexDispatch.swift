import RuleLang

/// `dispatch` and `next`: candidate rules from the rule index's key tables.
extension Machine {
  /// Collects this packet's candidate list from each key table; returns the first candidate's pc.
  mutating func dispatch(_ k: Int) -> Int {
    collect(k)
    return nextCandidate(program.indexes[program.slots[k].extra], after: -1)
  }

  /// Sets up the cursors of index K[k] for this packet.
  mutating func collect(_ k: Int) {
    activeIndex = k
    let index = program.indexes[program.slots[k].extra]
    let words = program.words.baseAddress!
    let cursors = self.cursors
    listCount = 0
    if index.alwaysCount > 0 {
      cursors[0] = index.always
      cursors[1] = index.always + index.alwaysCount
      listCount = 1
    }
    for t in 0..<index.tableCount {
      let table = program.tables[index.firstTable + t]
      let node: Int?
      switch table.kind {
      case 0 where table.direct >= 0:
        node = intFieldValue(table.field).flatMap { directInterval(table, $0) }
      case 0: node = intFieldValue(table.field).flatMap { intInterval(table, $0) }
      case 1 where table.direct >= 0:
        node = ipField(Int(table.field)).flatMap { v4Interval(table, $0) }
      case 1: node = ipField(Int(table.field)).flatMap { ipInterval(table, $0) }
      default: node = trieNode(table)
      }
      guard let node else { continue }
      let start = Int(words[table.lists + 2 * node])
      let count = Int(words[table.lists + 2 * node + 1])
      if count == 0 { continue }
      cursors[2 * listCount] = start
      cursors[2 * listCount + 1] = start + count
      listCount += 1
    }
  }

  /// The pc of the first candidate after section rule `after`, or the index's end.
  mutating func nextCandidate(_ index: VerifiedProgram.FlatIndex, after: Int) -> Int {
    let words = program.words.baseAddress!
    let cursors = self.cursors
    var best = Int.max
    for l in 0..<listCount {
      var pos = cursors[2 * l]
      let end = cursors[2 * l + 1]
      while pos < end, Int(words[pos]) <= after { pos += 1 }
      cursors[2 * l] = pos
      if pos < end { best = min(best, Int(words[pos])) }
    }
    // A candidate beyond this index's rules (only a hand-made program can get here) ends it.
    return best >= index.ruleCount ? index.end : Int(words[index.rulePCs + best])
  }

  mutating func next(_ k: Int, after rule: Int) -> Int {
    // Our compiler only emits `next` after its index's `dispatch`; any other program gets the
    // same answer by collecting the candidates here.
    if activeIndex != k { collect(k) }
    return nextCandidate(program.indexes[program.slots[k].extra], after: rule)
  }

  @inline(__always) func intFieldValue(_ raw: UInt8) -> Int64? { intField(Int(raw)) }

  /// The interval of an int table holding `x`.
  func intInterval(_ t: VerifiedProgram.FlatTable, _ x: Int64) -> Int? {
    interval(of: x, in: program.ranges.baseAddress! + 2 * t.bounds, count: t.count)
  }

  func ipInterval(_ t: VerifiedProgram.FlatTable, _ x: IPAddress) -> Int? {
    interval(of: x, in: program.ipRanges.baseAddress! + 2 * t.bounds, count: t.count)
  }

  /// The deepest trie node the field's bytes reach (every node's list includes its ancestors').
  func trieNode(_ t: VerifiedProgram.FlatTable) -> Int? {
    guard let bytes = bytesField(Int(t.field)) else { return nil }
    let words = program.words.baseAddress!
    var node = 0
    for i in 0..<bytes.count {
      let c = UInt32(bytes[i])
      let edgeStart = Int(words[t.edges + 2 * node])
      let edgeCount = Int(words[t.edges + 2 * node + 1])
      var lo = 0
      var hi = edgeCount
      var found = -1
      while lo < hi {
        let mid = (lo + hi) / 2
        let b = words[edgeStart + 2 * mid]
        if b == c {
          found = Int(words[edgeStart + 2 * mid + 1])
          break
        }
        if b < c { lo = mid + 1 } else { hi = mid }
      }
      if found < 0 { break }
      node = found
    }
    return node
  }
}
