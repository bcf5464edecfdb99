/// The versioned binary program format (`l7mp compile -o FILE.l7b`).
///
///     "L7MPBC" version:u16   — 8 bytes of magic and version
///     count:u32              — number of sections
///     section*               — tag:4 ASCII, length:u32, crc32:u32, payload
///
/// Sections: NAME (source name), CODE (8 bytes per instruction), KPOL (constants), LIST
/// (rulelists), RULE (rules), ROUT (routes). Integers are little-endian; strings are a u32 length
/// and UTF-8. Every section's CRC-32 is checked, every count is bounded by the bytes that remain,
/// and decoding never traps: a bad file is a `ProgramFormatError` naming the offset.
public enum ProgramCodec {
  public static let magic: [UInt8] = Array("L7MPBC".utf8)
  public static let version: UInt16 = 2

  public static func encode(_ p: Program) -> [UInt8] {
    var out = magic
    put16(&out, version)
    var sections: [(String, [UInt8])] = []
    var name: [UInt8] = []
    putString(&name, p.sourceName)
    sections.append(("NAME", name))
    var code: [UInt8] = []
    put32(&code, UInt32(p.code.count))
    for i in p.code {
      code.append(i.op.rawValue)
      code.append(i.a)
      put16(&code, i.b)
      put32(&code, i.c)
    }
    sections.append(("CODE", code))
    var pool: [UInt8] = []
    put32(&pool, UInt32(p.constants.count))
    for k in p.constants { encodeConstant(&pool, k) }
    sections.append(("KPOL", pool))
    var lists: [UInt8] = []
    put32(&lists, UInt32(p.rulelists.count))
    for l in p.rulelists {
      putString(&lists, l.name)
      putString(&lists, l.protocolName)
      put32(&lists, UInt32(l.entry))
    }
    sections.append(("LIST", lists))
    var rules: [UInt8] = []
    put32(&rules, UInt32(p.rules.count))
    for r in p.rules {
      putString(&rules, r.name)
      put32(&rules, UInt32(r.rulelist))
      put32(&rules, UInt32(r.line))
      switch r.action {
      case .drop:
        rules.append(0)
        put32(&rules, 0)
      case .route(let i):
        rules.append(1)
        put32(&rules, UInt32(i))
      case .apply(let i):
        rules.append(2)
        put32(&rules, UInt32(i))
      }
    }
    sections.append(("RULE", rules))
    var routes: [UInt8] = []
    put32(&routes, UInt32(p.routes.count))
    for r in p.routes {
      putString(&routes, r.destination)
      put32(&routes, UInt32(r.via.count))
      for v in r.via { putString(&routes, v) }
      put32(&routes, UInt32(r.returnVia.count))
      for v in r.returnVia { putString(&routes, v) }
      putString(&routes, r.retryOn.rawValue)
      put32(&routes, UInt32(r.retries))
      put64(&routes, UInt64(bitPattern: r.timeout))
      routes.append(r.removeOrphanSessions ? 1 : 0)
      put64(&routes, UInt64(bitPattern: r.idleTimeout))
    }
    sections.append(("ROUT", routes))
    put32(&out, UInt32(sections.count))
    for (tag, payload) in sections {
      out += Array(tag.utf8)
      put32(&out, UInt32(payload.count))
      put32(&out, crc32(payload))
      out += payload
    }
    return out
  }

  static func encodeConstant(_ out: inout [UInt8], _ k: Constant) {
    switch k {
    case .int(let v):
      out.append(0)
      put64(&out, UInt64(bitPattern: v))
    case .bytes(let b):
      out.append(1)
      putBytes(&out, b)
    case .ip(let a):
      out.append(2)
      putIP(&out, a)
    case .intSet(let rs):
      out.append(3)
      put32(&out, UInt32(rs.count))
      for r in rs {
        put64(&out, UInt64(bitPattern: r.lowerBound))
        put64(&out, UInt64(bitPattern: r.upperBound))
      }
    case .ipSet(let rs):
      out.append(4)
      put32(&out, UInt32(rs.count))
      for r in rs {
        putIP(&out, r.lo)
        putIP(&out, r.hi)
      }
    case .bytesSet(let ms):
      out.append(5)
      put32(&out, UInt32(ms.count))
      for m in ms { putBytes(&out, m) }
    case .automaton(let a):
      out.append(6)
      put32(&out, UInt32(a.stateCount))
      put32(&out, a.start)
      for t in a.transitions { put32(&out, t) }
      for s in 0..<a.stateCount {
        out.append((a.accepting[s] ? 1 : 0) | (a.acceptingAtEnd[s] ? 2 : 0))
      }
    case .path(let s):
      out.append(7)
      putString(&out, s)
    case .ruleIndex(let x):
      out.append(8)
      putList(&out, x.rulePCs)
      put32(&out, x.end)
      putList(&out, x.always)
      put32(&out, UInt32(x.intTables.count))
      for t in x.intTables {
        out.append(t.field.rawValue)
        put32(&out, UInt32(t.lo.count))
        for i in t.lo.indices {
          put64(&out, UInt64(bitPattern: t.lo[i]))
          put64(&out, UInt64(bitPattern: t.hi[i]))
          putList(&out, t.lists[i])
        }
      }
      put32(&out, UInt32(x.ipTables.count))
      for t in x.ipTables {
        out.append(t.field.rawValue)
        put32(&out, UInt32(t.lo.count))
        for i in t.lo.indices {
          putIP(&out, t.lo[i])
          putIP(&out, t.hi[i])
          putList(&out, t.lists[i])
        }
      }
      put32(&out, UInt32(x.prefixTables.count))
      for t in x.prefixTables {
        out.append(t.field.rawValue)
        put32(&out, UInt32(t.lists.count))
        for n in t.lists.indices {
          putBytes(&out, t.edgeBytes[n])
          putList(&out, t.edgeTargets[n])
          putList(&out, t.lists[n])
        }
      }
    }
  }

  static func putList(_ o: inout [UInt8], _ xs: [UInt32]) {
    put32(&o, UInt32(xs.count))
    for x in xs { put32(&o, x) }
  }

  static func put16(_ o: inout [UInt8], _ v: UInt16) { o += [UInt8(v & 0xFF), UInt8(v >> 8)] }
  static func put32(_ o: inout [UInt8], _ v: UInt32) {
    for s in stride(from: 0, to: 32, by: 8) { o.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
  }
  static func put64(_ o: inout [UInt8], _ v: UInt64) {
    for s in stride(from: 0, to: 64, by: 8) { o.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
  }
  static func putBytes(_ o: inout [UInt8], _ b: [UInt8]) {
    put32(&o, UInt32(b.count))
    o += b
  }
  static func putString(_ o: inout [UInt8], _ s: String) { putBytes(&o, Array(s.utf8)) }
  static func putIP(_ o: inout [UInt8], _ a: IPAddress) {
    put64(&o, a.high)
    put64(&o, a.low)
  }

  static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  /// CRC-32 (IEEE 802.3), as zlib computes it.
  public static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
  }
}

/// Why a binary program could not be read: where, and what was wrong.
public struct ProgramFormatError: Error, Sendable, Hashable, CustomStringConvertible {
  public let offset: Int
  public let message: String
  public var description: String { "at byte \(offset): \(message)" }
}
