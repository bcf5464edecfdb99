// Thousands of broken programs, seeded so that every run tries the same ones: compiled programs
// with random bytes of their binary form changed (with and without the section checksums repaired),
// with their instructions, constants and tables changed in memory, and programs made up at random.
// Each must be refused by `ProgramCodec.decode` or `Verifier.verify` with an error, or, when
// accepted, run under `VM.evaluate` on every rulelist and a set of packets (empty payload, absent
// fields, …) without crashing and with a verdict that names a rule of the program.
//
// A crash here is a hole in the decoder, the verifier or the VM. To find the input, run with
// `L7MP_MUTATION_TRACE=1`: each case prints its name before it runs, and the last one printed is
// the culprit. Keep it as a regression in VerifierTests.swift.

import Testing

@testable import RuleLang
@testable import VM

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// SplitMix64: small, fast, and the same sequence on every platform.
struct SeededRandom: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int.random(in: 0..<n, using: &self) }
  mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
}

private let tracing = getenv("L7MP_MUTATION_TRACE") != nil
/// For a longer soak: `L7MP_MUTATION_SCALE=20` runs twenty times as many cases, and
/// `L7MP_MUTATION_SEED=N` draws other ones.
private let scale = getenv("L7MP_MUTATION_SCALE").flatMap { Int(String(cString: $0)) } ?? 1
private let seedOffset = getenv("L7MP_MUTATION_SEED").flatMap { UInt64(String(cString: $0)) } ?? 0

// MARK: - Seeds

enum MutationSeeds {
  static let sources: [(String, String)] = [
    (
      "gateway",
      """
      const gateway_net = 10.0.0.0/24
      const sip_ports   = {5060, 5061}
      rulelist my-udp-endpoint for UDP {
        rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
          set HTTP.headers.id = 1
          route to worker via transcoder with remove_orphan_sessions = true
        }
        rule sip when UDP.dst_port in sip_ports and payload starts "INVITE " {
          route to sip-proxy via transcoder, codec return via codec
          with retry_on = "connect-failure", retries = 3, timeout = 2s
        }
        rule rtp when IP.src_addr in gateway_net and payload[0] & 0xc0 == 0x80 and len(payload) >= 12 {
          set labels.ssrc = u32(payload, 8)
          route to media
        }
        rule everything-else { drop }
      }
      """
    ),
    (
      "websocket",
      """
      rulelist ws for WebSocket {
        rule admin when HTTP.url.path starts "/admin" and HTTP.headers.x-tenant == "blue" { route to admin }
        rule upgrade when lower(HTTP.headers.connection) contains "upgrade" { route to ws }
        rule json when lower(HTTP.headers.content-type) matches "application/.*json" { route to json }
        rule verbs when HTTP.method in {"GET", "PUT"} and defined(HTTP.url.host) { route to rest }
        rule moved when HTTP.url.path starts HTTP.headers.x-base and IP.src_addr != IP.dst_addr {
          set HTTP.headers.x-moved = HTTP.url.path
          set labels.from = IP.src_addr
          route to moved
        }
        rule suffix when HTTP.url.host ends ".example.com" or payload[1:3] == "ab" { route to x }
      }
      """
    ),
    (
      "labels-and-loads",
      """
      rulelist back for UDP {
        rule tenant when labels.tenant == "blue" and labels.priority > 3 { apply side }
        rule peer when labels.peer in 10.0.0.0/8 or labels.flag { route to peer }
        rule loads when u16(payload, payload[0]) == 0xbeef and u32(payload, u8(payload, 3)) >= 0x10000 { drop }
        rule slices when payload[payload[0]:2] == "ok" and len(payload[16:100]) == 100 { drop }
        rule masks when payload[0] & payload[1] == 0 and u32(payload, 0) & 0x1ffffffff == 0x100 { drop }
        rule rest {
          set labels.count = len(payload)
          set labels.head = payload[0:4]
          set labels.v6 = 2001:db8::1
          route to rest
        }
      }
      rulelist side for UDP {
        rule six when IP.src_addr in {2001:db8::/32, 10.0.0.0/8} and UDP.dst_port not in {1, 2, 3} { drop }
        rule other { route to other }
      }
      """
    ),
    (
      "indexed",
      """
      rulelist many for UDP {
        rule p1 when UDP.dst_port == 1 { route to a }
        rule p2 when UDP.dst_port in {2, 3} and payload starts "x" { route to b }
        rule p3 when UDP.dst_port in 10..20 { route to c }
        rule n1 when IP.src_addr in 10.0.0.0/8 { route to d }
        rule n2 when IP.src_addr starts "192.168." and UDP.src_port == 5 { route to e }
        rule n3 when IP.dst_addr == 1.2.3.4 { route to f }
        rule s1 when payload starts "GET " { route to g }
        rule s2 when payload starts "GE" { route to h }
        rule s3 when payload == "PING" { route to i }
        rule u1 when len(payload) > 100 { route to j }
        rule p4 when UDP.dst_port == 53 { route to k }
        rule p5 when UDP.src_port in {7, 9} { route to l }
        rule n4 when IP.src_addr in 172.16.0.0/12 { route to m }
        rule s4 when payload starts "POST" { route to n }
        rule u2 when payload[0] == 0x80 { route to o }
        rule p6 when UDP.dst_port == 65535 { route to p }
        rule last { drop }
      }
      """
    ),
  ]

  static let programs: [Program] = sources.map { name, text in
    try! RuleCompiler.compile(SourceFile(name: name + ".rules", text: text)).get()
  }

  /// Packets with every field present, absent, empty, short and long.
  static let packets: [OwnedPacket] = {
    func ip(_ s: String) -> IPAddress { try! IPAddress.parse(s).get() }
    var list: [OwnedPacket] = [OwnedPacket()]
    var p = OwnedPacket()
    p.payload = []
    list.append(p)
    p = OwnedPacket()
    p.srcAddr = ip("10.0.0.7")
    p.dstAddr = ip("10.0.0.1")
    p.srcPort = 9001
    p.dstPort = 5061
    p.payload = Array("INVITE sip:x SIP/2.0".utf8)
    list.append(p)
    p.payload = [0x80, 0, 0, 1, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF]
    p.srcPort = 0
    p.dstPort = 65535
    list.append(p)
    p = OwnedPacket()
    p.srcAddr = ip("2001:db8::1")
    p.dstAddr = ip("::1")
    p.srcPort = 5
    p.dstPort = 53
    p.payload = Array("GET / HTTP/1.1".utf8)
    p.httpMethod = "GET"
    p.httpPath = "/admin/x"
    p.httpQuery = "debug=1"
    p.httpHost = "a.example.com"
    p.headers = [
      ("x-tenant", "blue"), ("Connection", "Upgrade"), ("content-type", "application/json"),
      ("x-base", "/ad"), ("", ""),
    ]
    p.labels = [
      ("tenant", .bytes(Array("blue".utf8))), ("priority", .int(5)), ("peer", .ip(ip("10.1.2.3"))),
      ("flag", .int(1)), ("x", .bytes([])), ("", .int(-1)),
    ]
    list.append(p)
    p = OwnedPacket()
    p.unixFilename = "/run/control.sock"
    p.httpMethod = ""
    p.httpPath = ""
    p.payload = [UInt8](repeating: 0xFF, count: 300)
    list.append(p)
    // Random ones: short payloads over a small alphabet, fields present or not.
    var rng = SeededRandom(seed: 0x9ACE7)
    let alphabet: [UInt8] = Array("GETPOSTx /ab0".utf8) + [0, 0x80, 0xC0, 0xFF, 3, 16]
    for _ in 0..<4 {
      var q = OwnedPacket()
      if rng.chance(80) {
        q.payload = (0..<rng.int(24)).map { _ in alphabet[rng.int(alphabet.count)] }
      }
      if rng.chance(70) {
        q.srcAddr = IPAddress(v4: UInt32(truncatingIfNeeded: rng.next()))
        q.dstAddr = rng.chance(50) ? IPAddress(high: rng.next(), low: rng.next()) : ip("1.2.3.4")
      }
      if rng.chance(70) { q.srcPort = rng.int(65536) }
      if rng.chance(70) { q.dstPort = [1, 2, 3, 15, 53, 5060, 65535][rng.int(7)] }
      if rng.chance(30) { q.httpMethod = ["GET", "PUT", "get"][rng.int(3)] }
      if rng.chance(30) { q.headers = [("X-A", "v"), ("x-a", "w")] }
      if rng.chance(30) { q.labels = [("x", .int(Int64(bitPattern: rng.next())))] }
      list.append(q)
    }
    return list
  }()
}

// MARK: - Running a candidate

/// What became of one broken program.
enum Outcome {
  case refusedByDecoder
  case refusedByVerifier
  case ran
}

/// Lends views of all `packets` at once.
func withViews<R>(
  _ packets: ArraySlice<OwnedPacket>, _ views: [PacketView] = [], _ body: ([PacketView]) -> R
) -> R {
  guard let first = packets.first else { return body(views) }
  return first.withView { v in withViews(packets.dropFirst(), views + [v], body) }
}

struct MutationRunner {
  let views: [PacketView]
  let rewrites: UnsafeMutableBufferPointer<Rewrite>
  var counts: [String: [Int]] = [:]
  var problems: [String] = []

  /// Verifies and runs a program; records anything wrong with an accepted program's verdicts.
  mutating func run(_ p: Program, _ name: String) -> Outcome {
    if tracing { print("case \(name)") }
    let v: VerifiedProgram
    do {
      v = try Verifier.verify(p)
    } catch {
      if error.message.isEmpty { problems.append("\(name): an error without a message") }
      return .refusedByVerifier
    }
    // The same program with every instruction run by its plain definition (no prepared kinds).
    let plain = VerifiedProgram(program: p, worstPath: v.worstPath, specialized: false)
    for list in p.rulelists.indices {
      for (i, view) in views.enumerated() {
        let verdict = VM.evaluate(v, rulelist: list, packet: view, rewrites: rewrites)
        if verdict.rule < -1 || Int(verdict.rule) >= p.rules.count
          || verdict.rewriteCount < 0 || Int(verdict.rewriteCount) > Verifier.maxRewrites
        {
          problems.append("\(name): verdict \(verdict) on rulelist \(list)")
        }
        let expected = VM.evaluate(plain, rulelist: list, packet: view, rewrites: rewrites)
        if verdict != expected {
          problems.append(
            "\(name): verdict \(verdict) on rulelist \(list), packet \(i); plainly \(expected)")
        }
      }
      // The copying convenience too (it reads the rewrites' constants).
      _ = VM.evaluate(v, rulelist: list, packet: MutationSeeds.packets[4])
    }
    return .ran
  }

  /// Decodes, then verifies and runs.
  mutating func run(bytes: [UInt8], _ name: String) -> Outcome {
    if tracing { print("case \(name)") }
    let p: Program
    do {
      p = try ProgramCodec.decode(bytes)
    } catch {
      if error.offset < 0 || error.offset > bytes.count {
        problems.append("\(name): offset \(error.offset) outside the \(bytes.count) bytes")
      }
      return .refusedByDecoder
    }
    return run(p, name)
  }

  mutating func tally(_ kind: String, _ o: Outcome) {
    var c = counts[kind] ?? [0, 0, 0]
    switch o {
    case .refusedByDecoder: c[0] += 1
    case .refusedByVerifier: c[1] += 1
    case .ran: c[2] += 1
    }
    counts[kind] = c
  }
}

/// Runs `body` with a runner over all seed packets, then reports what it found.
func withRunner(_ body: (inout MutationRunner) -> Void) {
  withViews(MutationSeeds.packets[...]) { views in
    withUnsafeTemporaryAllocation(of: Rewrite.self, capacity: Verifier.maxRewrites) { buf in
      var runner = MutationRunner(views: views, rewrites: buf)
      body(&runner)
      for p in runner.problems.prefix(20) { Issue.record("\(p)") }
      for (kind, c) in runner.counts.sorted(by: { $0.key < $1.key }) {
        print("\(kind): \(c[0]) refused by the decoder, \(c[1]) by the verifier, \(c[2]) ran")
      }
    }
  }
}

// MARK: - Tests

@Suite struct VerifierMutationTests {
  @Test func seedsAreValidAndRun() throws {
    #expect(MutationSeeds.programs.contains { p in p.code.contains { $0.op == .dispatch } })
    withRunner { runner in
      for (i, p) in MutationSeeds.programs.enumerated() {
        #expect(runner.run(p, "seed \(i)") == .ran)
        #expect(runner.run(bytes: ProgramCodec.encode(p), "seed \(i) encoded") == .ran)
      }
    }
  }

  /// Random bytes of the binary form: the checksums catch nearly all; with them repaired, the
  /// decoder and then the verifier must.
  @Test func mutatedBinaries() {
    withRunner { runner in
      var rng = SeededRandom(seed: 1 &+ seedOffset)
      let encoded = MutationSeeds.programs.map(ProgramCodec.encode)
      for i in 0..<(1500 * scale) {
        let repair = i % 3 != 0
        var b = encoded[i % encoded.count]
        Mutate.bytes(&b, &rng, inSections: repair)
        if repair { Mutate.repairChecksums(&b) }
        runner.tally(
          repair ? "binary, checksums repaired" : "binary", runner.run(bytes: b, "binary \(i)"))
      }
    }
  }

  /// Instructions, constants and tables changed in memory (no decoder in the way).
  @Test func mutatedPrograms() {
    withRunner { runner in
      var rng = SeededRandom(seed: 2 &+ seedOffset)
      for i in 0..<(2000 * scale) {
        var p = MutationSeeds.programs[i % MutationSeeds.programs.count]
        Mutate.program(&p, &rng)
        runner.tally("in memory", runner.run(p, "program \(i)"))
        // And through the binary form, which must keep what it is given or refuse it.
        if i % 4 == 0, Mutate.encodable(p) {
          runner.tally(
            "in memory, encoded", runner.run(bytes: ProgramCodec.encode(p), "program \(i) encoded"))
        }
      }
    }
  }

  @Test func randomPrograms() {
    withRunner { runner in
      var rng = SeededRandom(seed: 3 &+ seedOffset)
      for i in 0..<(2500 * scale) {
        runner.tally("random", runner.run(Mutate.randomProgram(&rng), "random \(i)"))
      }
      // Enough of them run for this to test the VM, not just the verifier.
      #expect((runner.counts["random"]?[2] ?? 0) > 1000 * scale)
    }
  }
}
