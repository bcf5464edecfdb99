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
    var result: [IPInterval] = []
    // Walk the octets: each octet's text either is fully given (followed by '.') or is the
    // partial last group, whose possible values are those whose decimal text starts with it.
    func walk(_ octet: Int, _ pos: Int, _ value: UInt32) {
      if octet == 4 {
        if pos == bytes.count {
          result.append(IPInterval(lo: IPAddress(v4: value), hi: IPAddress(v4: value)))
        }
        return
      }
      if pos >= bytes.count {
        // Everything from here on is free.
        let free = UInt32(8 * (4 - octet))
        let lo = value << free
        let hi = free == 32 ? UInt32.max : lo | ((1 << free) - 1)
        result.append(IPInterval(lo: IPAddress(v4: lo), hi: IPAddress(v4: hi)))
        return
      }
      for v in 0...255 {
        let text = Array(String(v).utf8)
        let rest = bytes.count - pos
        if rest <= text.count {
          // The prefix ends inside (or exactly at the end of) this octet.
          guard Array(text.prefix(rest)) == Array(bytes[pos...]) else { continue }
          walk(octet + 1, bytes.count, value << 8 | UInt32(v))
        } else {
          guard Array(bytes[pos..<(pos + text.count)]) == text else { continue }
          let next = pos + text.count
          if octet < 3 {
            guard bytes[next] == UInt8(ascii: ".") else { continue }
            walk(octet + 1, next + 1, value << 8 | UInt32(v))
          }
        }
      }
    }
    walk(0, 0, 0)
    return normalize(result)
  }
}
