/// Turning sets, ranges, CIDRs and text prefixes into the sorted interval tables the VM searches.
public enum Intervals {
  /// Sorted, merged intervals.
  public static func normalize(_ xs: [ClosedRange<Int64>]) -> [ClosedRange<Int64>] {
    let sorted = xs.sorted { $0.lowerBound < $1.lowerBound }
    var out: [ClosedRange<Int64>] = []
    for r in sorted {
      if let last = out.last, last.upperBound == Int64.max || r.lowerBound <= last.upperBound + 1 {
        out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
      } else {
        out.append(r)
      }
    }
    return out
  }

  public static func normalize(_ xs: [IPInterval]) -> [IPInterval] {
    let sorted = xs.sorted { $0.lo < $1.lo }
    var out: [IPInterval] = []
    for r in sorted {
      if let last = out.last, r.lo <= last.hi || isSuccessor(r.lo, of: last.hi) {
        out[out.count - 1] = IPInterval(lo: last.lo, hi: max(last.hi, r.hi))
      } else {
        out.append(r)
      }
    }
    return out
  }

  static func isSuccessor(_ a: IPAddress, of b: IPAddress) -> Bool {
    if b.low == ~0 { return b.high != ~0 && a.high == b.high + 1 && a.low == 0 }
    return a.high == b.high && a.low == b.low + 1
  }

  /// The int intervals of a constant set or range.
  static func ints(_ v: Value) -> [ClosedRange<Int64>]? {
    switch v {
    case .int(let x), .duration(let x): return [x...x]
    case .range(let a, let b):
      guard let lo = int(a), let hi = int(b) else { return nil }
      return lo <= hi ? [lo...hi] : []
    case .set(let vs):
      var out: [ClosedRange<Int64>] = []
      for x in vs {
        guard let r = ints(x) else { return nil }
        out += r
      }
      return normalize(out)
    default: return nil
    }
  }

  static func int(_ v: Value) -> Int64? {
    switch v {
    case .int(let x), .duration(let x): return x
    default: return nil
    }
  }

  /// The address intervals of a constant address, CIDR, set or range.
  static func ips(_ v: Value) -> [IPInterval]? {
    switch v {
    case .ip(let a): return [IPInterval(lo: a, hi: a)]
    case .cidr(let c): return [IPInterval(c)]
    case .range(.ip(let a), .ip(let b)): return a <= b ? [IPInterval(lo: a, hi: b)] : []
    case .set(let vs):
      var out: [IPInterval] = []
      for x in vs {
        guard let r = ips(x) else { return nil }
        out += r
      }
      return normalize(out)
    default: return nil
    }
  }

  /// The IPv4 addresses whose dotted text starts with `prefix` (l7mp's `starts` on an address), as
  /// intervals. IPv6 text never matters here: a prefix with ':' is matched on the IPv6 text by
  /// `ipv6TextIntervals`, anything else matches IPv4 only.
  public static func ipv4TextPrefix(_ prefix: String) -> [IPInterval] {
    let bytes = Array(prefix.utf8)
    var value: UInt32 = 0
    var pos = 0
    // Each octet's text up to a '.' is given whole; the text after the last '.' is the partial
    // last group, followed by octets that are free.
    for octet in 0..<4 {
      if let dot = bytes[pos...].firstIndex(of: UInt8(ascii: ".")) {
        guard octet < 3, let v = octetValue(bytes[pos..<dot]) else { return [] }
        value = value << 8 | v
        pos = dot + 1
        continue
      }
      let free = UInt32(8 * (3 - octet))
      if pos == bytes.count {
        let lo = UInt64(value) << (free + 8)
        let hi = lo | ((1 << (free + 8)) - 1)
        return [IPInterval(lo: IPAddress(v4: UInt32(lo)), hi: IPAddress(v4: UInt32(hi)))]
      }
      var result: [IPInterval] = []
      for v in octetValues(startingWith: bytes[pos...]) {
        let lo = UInt64(value << 8 | v) << free
        let hi = lo | ((1 << free) - 1)
        result.append(IPInterval(lo: IPAddress(v4: UInt32(lo)), hi: IPAddress(v4: UInt32(hi))))
      }
      return normalize(result)
    }
    return []
  }

  /// The octet whose decimal text is exactly `text` ("7", "10", "255"; not "07" or "256").
  static func octetValue(_ text: ArraySlice<UInt8>) -> UInt32? {
    guard (1...3).contains(text.count), text.first != UInt8(ascii: "0") || text.count == 1 else {
      return nil
    }
    var v: UInt32 = 0
    for c in text {
      guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return nil }
      v = v * 10 + UInt32(c - UInt8(ascii: "0"))
    }
    return v <= 255 ? v : nil
  }

  /// The octets whose decimal text starts with `text` (not empty), ascending: `n`, `n0`–`n9` and
  /// `n00`–`n99` up to 255 for the number `n` that `text` spells.
  static func octetValues(startingWith text: ArraySlice<UInt8>) -> [UInt32] {
    guard let n = octetValue(text) else { return [] }
    if n == 0 { return [0] }
    return ([n] + Array(n * 10...n * 10 + 9) + Array(n * 100...n * 100 + 99)).filter { $0 <= 255 }
  }
}
