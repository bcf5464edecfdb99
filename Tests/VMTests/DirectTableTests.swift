import Testing

@testable import RuleLang
@testable import VM

/// Large port and IPv4 key tables are looked up through `DirectTables` instead of a binary
/// search; indexed code must still decide exactly as linear code does.
@Suite struct DirectTableTests {
  typealias Rng = RuleIndexTests.Rng

  /// Ports spread over 0...65535 (single ports, small ranges, the extremes) and IPv4 networks over
  /// many /16 buckets, with overlaps, residual conditions and unkeyed rules.
  static func rules(_ rng: inout Rng, count: Int, ipv6: Bool) -> String {
    var out = "rulelist big for UDP {\n"
    for i in 0..<count {
      var conds: [String] = []
      switch rng.int(7) {
      case 0: conds.append("UDP.dst_port == \(port(&rng))")
      case 1:
        let a = port(&rng)
        conds.append("UDP.dst_port in \(a)..\(min(65_535, a + rng.int(40)))")
      case 2: conds.append("UDP.src_port in {\(port(&rng)), \(port(&rng))}")
      case 3:
        let bits = [8, 16, 20, 24, 30, 32][rng.int(6)]
        let network = v4(&rng) & ~(UInt32.max >> bits)
        conds.append("IP.src_addr in \(IPAddress(v4: network))/\(bits)")
      case 4: conds.append("IP.src_addr == \(address(&rng))")
      case 5 where ipv6: conds.append("IP.src_addr in 2001:db8::/\([32, 64, 128][rng.int(3)])")
      default: break
      }
      if rng.int(4) == 0 { conds.append("payload[0] & 1 == \(rng.int(2))") }
      let when = conds.isEmpty ? "" : " when " + conds.joined(separator: " and ")
      out += "  rule r\(i)\(when) { route to c\(i) }\n"
    }
    return out + "}\n"
  }

  static let edgePorts = [0, 1, 1023, 1024, 32_767, 32_768, 65_534, 65_535]

  static func port(_ rng: inout Rng) -> Int {
    rng.int(5) == 0 ? edgePorts[rng.int(edgePorts.count)] : rng.int(65_536)
  }

  /// Addresses in a few /16s (so buckets hold several intervals), plus both ends of IPv4.
  static func v4(_ rng: inout Rng) -> UInt32 {
    switch rng.int(6) {
    case 0: return [0, 0xFFFF_FFFF, 0xFFFF_0000, 0x0000_FFFF, 0x0001_0000][rng.int(5)]
    case 1: return rng.next().truncated
    default:
      return [0x0A00_0000, 0x0A01_0000, 0xC0A8_0000][rng.int(3)] | UInt32(rng.int(1 << 16))
    }
  }

  static func address(_ rng: inout Rng) -> String { IPAddress(v4: v4(&rng)).description }

  static func packet(_ rng: inout Rng) -> OwnedPacket {
    var p = OwnedPacket()
    if rng.int(10) > 0 {
      p.srcAddr =
        rng.int(8) == 0
        ? IPAddress(high: 0x2001_0DB8_0000_0000, low: rng.next())
        : IPAddress(v4: v4(&rng))
      p.dstAddr = IPAddress(v4: 1)
    }
    if rng.int(10) > 0 {
      p.srcPort = port(&rng)
      p.dstPort = port(&rng)
    }
    p.payload = [UInt8(rng.int(256))]
    return p
  }

  /// The flattened key tables of the program's first rule index.
  static func tables(_ v: VerifiedProgram) -> [VerifiedProgram.FlatTable] {
    let index = v.indexes[0]
    return (0..<index.tableCount).map { v.tables[index.firstTable + $0] }
  }

  @Test(arguments: [false, true])
  func largeTablesAgreeWithLinearCode(ipv6: Bool) throws {
    var rng = Rng(state: ipv6 ? 7 : 3)
    for round in 0..<4 {
      let source = Self.rules(&rng, count: 600, ipv6: ipv6)
      let programs = try RuleIndexTests.indexedAndLinear(source)
      let tables = Self.tables(programs.indexed)
      // Both port tables get a lookup table; the address table only when it is IPv4-only.
      #expect(tables.filter { $0.kind == 0 && $0.direct >= 0 }.count == 2)
      #expect(tables.contains { $0.kind == 1 && $0.direct >= 0 } == !ipv6)
      for _ in 0..<3000
      where !RuleIndexTests.agree(programs, on: Self.packet(&rng), "round \(round)") {
        return
      }
    }
  }

  /// Prefixes over a small alphabet, so that packets share long prefixes with the rules: the
  /// trie is deep and its root has many children (the root table), some rules have residual
  /// conditions (the `Machine` takes over from the lean loop mid-candidate) and some are unkeyed.
  static func prefixRules(_ rng: inout Rng, count: Int) -> String {
    var out = "rulelist big for UDP {\n"
    for i in 0..<count {
      var conds: [String] = []
      switch rng.int(6) {
      case 0: break
      case 1: conds.append("UDP.dst_port == \(rng.int(4))")
      default: conds.append("payload starts \"\(text(&rng, upTo: 4))\"")
      }
      if rng.int(3) == 0 { conds.append("len(payload) >= \(rng.int(5))") }
      let when = conds.isEmpty ? "" : " when " + conds.joined(separator: " and ")
      out += "  rule r\(i)\(when) { route to c\(i) }\n"
    }
    return out + "}\n"
  }

  /// Up to `n` letters of a small alphabet, maybe none.
  static func text(_ rng: inout Rng, upTo n: Int) -> String {
    String((0..<rng.int(n + 1)).map { _ in Array("ABCDEFGHIJ")[rng.int(10)] })
  }

  @Test func largeTriesAgreeWithLinearCode() throws {
    var rng = Rng(state: 5)
    for round in 0..<3 {
      let programs = try RuleIndexTests.indexedAndLinear(Self.prefixRules(&rng, count: 800))
      #expect(
        Self.tables(programs.indexed).contains { $0.lookup == .trie && $0.rootChildren >= 0 })
      for _ in 0..<3000 {
        var p = OwnedPacket()
        p.dstPort = rng.int(6)
        p.payload = rng.int(10) == 0 ? nil : Array(Self.text(&rng, upTo: 6).utf8)
        if rng.int(8) == 0 { p.payload = [0x80] + (p.payload ?? []) }
        if !RuleIndexTests.agree(programs, on: p, "round \(round)") { return }
      }
    }
  }

  @Test func smallTablesKeepTheSearch() throws {
    var rng = Rng(state: 11)
    let v = try Verifier.verify(
      RuleCompiler.compile(
        SourceFile(name: "small.rules", text: Self.rules(&rng, count: 20, ipv6: false))
      )
      .get())
    #expect(Self.tables(v).allSatisfy { $0.direct < 0 && $0.rootChildren < 0 })
  }

  @Test func unsortedOrOverlappingIntervalsGetNoLookupTable() {
    var t = VerifiedProgram.FlatTable()
    var words: [UInt32] = []
    let lo = (0..<40).map { Int64($0 * 10) }
    var hi = lo.map { $0 + 5 }
    hi[3] = 100
    DirectTables.addPortTable(&t, lo: lo, hi: hi, to: &words)
    #expect(t.direct == -1 && words.isEmpty)
    hi[3] = 35
    DirectTables.addPortTable(&t, lo: lo, hi: hi, to: &words)
    #expect(t.direct == 0 && words.count == DirectTables.keys)
    #expect(words[0] == 1 && words[5] == 1 && words[6] == 0 && words[395] == 40)
  }
}

extension UInt64 {
  fileprivate var truncated: UInt32 { UInt32(truncatingIfNeeded: self) }
}
