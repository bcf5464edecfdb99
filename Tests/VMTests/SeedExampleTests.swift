import Foundation
import Testing

@testable import RuleLang
@testable import VM

/// DESIGN.md's gateway rules, compiled, verified and run on packets that exercise each rule.
@Suite struct SeedExampleTests {
  /// examples/gateway.rules: DESIGN.md's example, the built-in example of `make run`.
  static let source: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    return
      (try? String(
        contentsOf: root.appendingPathComponent("examples/gateway.rules"), encoding: .utf8)) ?? ""
  }()

  static func program() throws -> VerifiedProgram {
    let p = try RuleCompiler.compile(SourceFile(name: "gateway.rules", text: source)).get()
    return try Verifier.verify(p)
  }

  static func udp(_ src: String, _ sport: Int, _ dst: String, _ dport: Int, _ payload: [UInt8])
    -> OwnedPacket
  {
    var p = OwnedPacket()
    p.srcAddr = try! IPAddress.parse(src).get()
    p.dstAddr = try! IPAddress.parse(dst).get()
    p.srcPort = sport
    p.dstPort = dport
    p.payload = payload
    return p
  }

  func ruleName(_ v: VerifiedProgram, _ verdict: Verdict) -> String {
    verdict.matched ? v.program.rules[Int(verdict.rule)].name : "<none>"
  }

  @Test func eachRuleMatchesItsPackets() throws {
    let v = try Self.program()
    let gateway = Self.udp("10.0.0.7", 9001, "10.0.0.1", 9001, Array("hello".utf8))
    let (g, rewrites) = VM.evaluate(v, rulelist: 0, packet: gateway)
    #expect(ruleName(v, g) == "from-gateway")
    #expect(rewrites.count == 1)
    #expect(rewrites.first?.path == "HTTP.headers.id")
    #expect(rewrites.first?.value == .int(1))

    let invite = Self.udp("192.168.1.5", 5000, "10.0.0.1", 5061, Array("INVITE sip:x SIP/2.0".utf8))
    #expect(ruleName(v, VM.evaluate(v, rulelist: 0, packet: invite).verdict) == "sip")

    var rtp: [UInt8] = [0x80, 0, 0, 1, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF]
    let (r, rr) = VM.evaluate(
      v, rulelist: 0, packet: Self.udp("10.0.0.9", 4000, "10.0.0.1", 7000, rtp))
    #expect(ruleName(v, r) == "rtp")
    #expect(rr.first?.value == .int(0xDEAD_BEEF))
    rtp.removeLast()  // 11 bytes: too short for RTP
    #expect(
      ruleName(
        v,
        VM.evaluate(v, rulelist: 0, packet: Self.udp("10.0.0.9", 4000, "10.0.0.1", 7000, rtp))
          .verdict) == "everything-else")

    // 10.0.0.x text prefix: 10.0.0.255 matches, 10.0.1.1 and 10.0.00 lookalikes do not.
    #expect(
      ruleName(
        v,
        VM.evaluate(v, rulelist: 0, packet: Self.udp("10.0.0.255", 9001, "1.1.1.1", 1, [])).verdict)
        == "from-gateway")
    #expect(
      ruleName(
        v, VM.evaluate(v, rulelist: 0, packet: Self.udp("10.0.1.1", 9001, "1.1.1.1", 1, [])).verdict
      ) == "everything-else")
    #expect(
      ruleName(
        v,
        VM.evaluate(v, rulelist: 0, packet: Self.udp("::ffff:10.0.0.1", 9001, "::1", 1, [])).verdict
      ) == "from-gateway")
    #expect(
      ruleName(
        v, VM.evaluate(v, rulelist: 0, packet: Self.udp("2001:db8::1", 9001, "::1", 1, [])).verdict)
        == "everything-else")
  }

  @Test func programRoundTripsThroughTheBinaryFormat() throws {
    let v = try Self.program()
    let bytes = ProgramCodec.encode(v.program)
    let decoded = try ProgramCodec.decode(bytes)
    #expect(decoded == v.program)
    #expect(Disassembler.listing(decoded) == Disassembler.listing(v.program))
  }

  @Test func evaluationAllocatesNothingPerPacketAfterWarmUp() throws {
    // A functional check of the zero-copy path: the raw API on a view, many times, same answer.
    let v = try Self.program()
    let packet = Self.udp("10.0.0.7", 9001, "10.0.0.1", 9001, Array("hello".utf8))
    packet.withView { view in
      withUnsafeTemporaryAllocation(of: Rewrite.self, capacity: Verifier.maxRewrites) { buf in
        for _ in 0..<1000 {
          let verdict = VM.evaluate(v, rulelist: 0, packet: view, rewrites: buf)
          #expect(verdict.rule == 0 && verdict.rewriteCount == 1)
        }
      }
    }
  }
}
