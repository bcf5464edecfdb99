import Testing

@testable import RuleLang
@testable import VM

/// Indexed rulelists must decide exactly as linear code does, for every packet.
@Suite struct RuleIndexTests {
  /// A seeded generator (SplitMix64).
  struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  }

  static let prefixes = ["INVITE", "INV", "BYE", "REGISTER", "SIP", "S", "", "OPTIONS"]

  /// Rules that mix every key kind with residual conditions, overlapping keys and unkeyed rules.
  static func rules(_ rng: inout Rng, count: Int) -> String {
    var out = "rulelist big for UDP {\n"
    for i in 0..<count {
      var conds: [String] = []
      switch rng.int(9) {
      case 0: conds.append("UDP.dst_port == \(5000 + rng.int(20))")
      case 1: conds.append("UDP.src_port in {\(rng.int(20)), \(rng.int(20)), 9001}")
      case 2: conds.append("UDP.dst_port in \(5000 + rng.int(10))..\(5010 + rng.int(10))")
      case 3:
        conds.append(
          "IP.src_addr in 10.\(rng.int(3)).\(rng.int(3)).0/\([8, 16, 24, 32][rng.int(4)])")
      case 4: conds.append("IP.src_addr starts \"10.\(rng.int(3))\"")
      case 5: conds.append("payload starts \"\(prefixes[rng.int(prefixes.count)])\"")
      case 6: conds.append("IP.dst_addr == 10.0.0.\(rng.int(4))")
      case 7: conds.append("len(payload) > \(rng.int(8))")
      default: break
      }
      if rng.int(3) == 0 { conds.append("payload[0] & 1 == \(rng.int(2))") }
      if rng.int(4) == 0 { conds.append("not (UDP.src_port == \(rng.int(20)))") }
      let when = conds.isEmpty ? "" : " when " + conds.joined(separator: " and ")
      out += "  rule r\(i)\(when) { \(rng.int(5) == 0 ? "drop" : "route to c\(i)") }\n"
    }
    return out + "}\n"
  }

  static func packet(_ rng: inout Rng) -> OwnedPacket {
    var p = OwnedPacket()
    if rng.int(10) > 0 {
      p.srcAddr = IPAddress(
        v4: UInt32(10) << 24 | UInt32(rng.int(3)) << 16 | UInt32(rng.int(3)) << 8
          | UInt32(rng.int(4)))
      p.dstAddr = IPAddress(v4: UInt32(10) << 24 | UInt32(rng.int(5)))
    }
    if rng.int(10) > 0 {
      p.srcPort = rng.int(22)
      p.dstPort = 5000 + rng.int(22)
    }
    if rng.int(10) > 0 {
      var bytes = Array(prefixes[rng.int(prefixes.count)].utf8)
      for _ in 0..<rng.int(6) { bytes.append(UInt8(rng.int(256))) }
      p.payload = bytes
    }
    return p
  }

  /// `source` compiled with rule indexes and as plain linear code, both verified; its rule
  /// errors, if any, are recorded.
  static func indexedAndLinear(_ source: String) throws -> (
    indexed: VerifiedProgram, linear: VerifiedProgram
  ) {
    let checked = RuleChecker.check(SourceFile(name: "big.rules", text: source))
    let errors = checked.diagnostics.filter { $0.severity == .error }
    #expect(errors.isEmpty, "\(errors.map(\.message))")
    return (
      try Verifier.verify(RuleCompiler.compile(checked).get()),
      try Verifier.verify(RuleCompiler.compile(checked, indexing: false).get())
    )
  }

  /// Whether both programs give `p` the same verdict (recording the difference if not).
  static func agree(
    _ programs: (indexed: VerifiedProgram, linear: VerifiedProgram), on p: OwnedPacket,
    _ label: String
  ) -> Bool {
    let a = VM.evaluate(programs.indexed, rulelist: 0, packet: p)
    let b = VM.evaluate(programs.linear, rulelist: 0, packet: p)
    #expect(
      a.verdict == b.verdict,
      "\(label): \(String(describing: p)) → indexed \(a.verdict.rule), linear \(b.verdict.rule)")
    return a.verdict == b.verdict
  }

  @Test func indexedAndLinearCodeAgree() throws {
    var rng = Rng(state: 42)
    for round in 0..<12 {
      let source = Self.rules(&rng, count: [16, 40, 200][round % 3])
      let programs = try Self.indexedAndLinear(source)
      #expect(
        programs.indexed.program.code.contains { $0.op == .dispatch },
        "round \(round) was not indexed")
      for _ in 0..<400
      where !Self.agree(programs, on: Self.packet(&rng), "round \(round)\n\(source)") {
        return
      }
    }
  }

  @Test func tenThousandRulesCompileIndexedAndVerify() throws {
    var source = "rulelist big for UDP {\n"
    for i in 0..<10_000 {
      switch i % 3 {
      case 0: source += "  rule p\(i) when UDP.dst_port == \(1024 + i) { route to c }\n"
      case 1:
        source +=
          "  rule n\(i) when IP.src_addr in 10.\(i / 65_536 % 256).\(i / 256 % 256).\(i % 256)/32 { route to c }\n"
      default: source += "  rule s\(i) when payload starts \"SIG\(i)\" { route to c }\n"
      }
    }
    source += "  rule rest { drop }\n}\n"
    let p = try RuleCompiler.compile(SourceFile(name: "big.rules", text: source)).get()
    let v = try Verifier.verify(p)
    var packet = OwnedPacket()
    packet.srcAddr = IPAddress(v4: 0x0A00_0000 | 9_997)
    packet.dstAddr = IPAddress(v4: 1)
    packet.srcPort = 1
    packet.dstPort = 1024 + 9_999
    packet.payload = Array("SIG9998".utf8)
    // 9997 % 3 == 1: the address rule n9997 comes first.
    #expect(
      v.program.rules[Int(VM.evaluate(v, rulelist: 0, packet: packet).verdict.rule)].name == "n9997"
    )
    packet.srcAddr = IPAddress(v4: 1)
    #expect(
      v.program.rules[Int(VM.evaluate(v, rulelist: 0, packet: packet).verdict.rule)].name == "s9998"
    )
    packet.payload = []
    #expect(
      v.program.rules[Int(VM.evaluate(v, rulelist: 0, packet: packet).verdict.rule)].name == "p9999"
    )
    packet.dstPort = 1
    #expect(
      v.program.rules[Int(VM.evaluate(v, rulelist: 0, packet: packet).verdict.rule)].name == "rest")
    // The longest path is short: dispatch goes straight to candidates.
    #expect(v.worstPath < 20_000 * 3 + 10)
  }
}
