import RuleLang

/// Lookup tables that replace the binary search of a large rule-index key table (issue 3: 10,000
/// rules within twice the time of 10). They are built here, when a program is laid out for the
/// interpreter, not stored in the bytecode: the format and its verifier stay as they are.
///
/// Each table costs 65,536 (ports) or 65,537 (IPv4 buckets) words, 256 KiB, plus 8 bytes per
/// interval for the 32-bit IPv4 bounds, so only tables with at least `minimumIntervals` get one.
/// A prefix trie of at least that many nodes gets its root's edges as a 256-word table (1 KiB).
enum DirectTables {
  static let minimumIntervals = 32
  static let keys = 65_536

  /// Sorted, disjoint intervals: the only tables a lookup table may stand in for, since the binary
  /// search's answer on anything else (a hand-made program) is not "the interval holding x".
  static func sortedAndDisjoint<T: Comparable>(_ lo: [T], _ hi: [T]) -> Bool {
    guard lo.count == hi.count else { return false }
    for j in lo.indices {
      if lo[j] > hi[j] { return false }
      if j > 0, hi[j - 1] >= lo[j] { return false }
    }
    return true
  }

  /// An int table within 0...65535 (ports, in practice): key → interval + 1, 0 for none.
  static func addPortTable(
    _ t: inout VerifiedProgram.FlatTable, lo: [Int64], hi: [Int64], to words: inout [UInt32]
  ) {
    guard lo.count >= minimumIntervals, sortedAndDisjoint(lo, hi),
      lo.allSatisfy({ $0 >= 0 }), hi.allSatisfy({ $0 < keys })
    else { return }
    t.lookup = .portDirect
    t.direct = words.count
    words += [UInt32](repeating: 0, count: keys)
    for j in lo.indices {
      for x in lo[j]...hi[j] { words[t.direct + Int(x)] = UInt32(j + 1) }
    }
  }

  /// An address table of IPv4 intervals only: 32-bit bounds, and per value of a key's top 16
  /// bits the first interval that can hold it (the first whose upper bound reaches the bucket).
  /// Entry 65,536 is the interval count, so bucket b's candidates are entries b...b+1.
  static func addIPv4Table(
    _ t: inout VerifiedProgram.FlatTable, lo: [IPAddress], hi: [IPAddress],
    to words: inout [UInt32]
  ) {
    guard lo.count >= minimumIntervals, sortedAndDisjoint(lo, hi),
      lo.allSatisfy(\.isV4), hi.allSatisfy(\.isV4)
    else { return }
    t.lookup = .v4Buckets
    t.v4Bounds = words.count
    for j in lo.indices { words += [lo[j].v4, hi[j].v4] }
    t.direct = words.count
    words += [UInt32](repeating: 0, count: keys + 1)
    var j = 0
    for b in 0...keys {
      while j < hi.count, UInt64(hi[j].v4) < UInt64(b) << 16 { j += 1 }
      words[t.direct + b] = UInt32(j)
    }
  }

  /// A prefix trie's root edges by byte: child + 1, 0 for none. `edges` are the root's (byte,
  /// target) pairs, sorted by byte (the verifier saw to it), so this is the child the binary
  /// search would find.
  static func addRootTable(
    _ t: inout VerifiedProgram.FlatTable, nodes: Int, bytes: [UInt8], targets: [UInt32],
    to words: inout [UInt32]
  ) {
    guard nodes >= minimumIntervals else { return }
    t.rootChildren = words.count
    words += [UInt32](repeating: 0, count: 256)
    for (b, target) in zip(bytes, targets) { words[t.rootChildren + Int(b)] = target + 1 }
  }
}
