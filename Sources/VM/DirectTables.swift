import RuleLang

/// Lookup tables that replace the binary search of a large rule-index key table (issue 3: 10,000
/// rules within twice the time of 10). They are built here, when a program is laid out for the
/// interpreter, not stored in the bytecode: the format and its verifier stay as they are.
///
/// Each table costs 65,536 (ports) or 65,537 (IPv4 buckets) words, 256 KiB, plus 8 bytes per
/// interval for the 32-bit IPv4 bounds, so only tables with at least `minimumIntervals` get one.
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
}

extension Machine {
  /// The interval of a port table's lookup table holding `x`.
  @inline(__always) func directInterval(_ t: VerifiedProgram.FlatTable, _ x: Int64) -> Int? {
    guard x >= 0, x < DirectTables.keys else { return nil }
    let entry = Int(program.words.baseAddress![t.direct + Int(x)])
    return entry == 0 ? nil : entry - 1
  }

  /// The interval of an IPv4 table holding `x`: a search among the intervals of x's bucket only.
  @inline(__always) func v4Interval(_ t: VerifiedProgram.FlatTable, _ x: IPAddress) -> Int? {
    // Every bound is IPv4 and the IPv4 addresses are one block of the address space.
    guard x.isV4 else { return nil }
    let words = program.words.baseAddress!
    let key = x.v4
    let bucket = t.direct + Int(key >> 16)
    var lo = Int(words[bucket])
    // The interval at the next bucket's first entry reaches that bucket, so it is past `key`.
    var hi = min(Int(words[bucket + 1]) + 1, t.count)
    // The first interval whose upper bound is at least `key`.
    let bounds = words + t.v4Bounds
    while lo < hi {
      let mid = (lo + hi) / 2
      if bounds[2 * mid + 1] < key { lo = mid + 1 } else { hi = mid }
    }
    return lo < t.count && bounds[2 * lo] <= key ? lo : nil
  }
}
