import Foundation
import Testing

@testable import RuleLang
@testable import VM

/// The compiler and the VM against the reference evaluator, on random well-typed rule files and
/// random packets. Reproducible: the seed is fixed (L7MP_DIFF_SEED and L7MP_DIFF_FILES override
/// it and the number of files), and a mismatch prints the seed, the rule source and the packet.
@Suite struct DifferentialTests {
  static let defaultSeed: UInt64 = 0x7E57_1A7B
  static let defaultFiles = 250
  /// Packets per protocol and file, each run on every rulelist of its protocol.
  static let defaultPackets = 10

  @Test func vmAgreesWithTheReferenceEvaluator() throws {
    let env = ProcessInfo.processInfo.environment
    let seed = env["L7MP_DIFF_SEED"].flatMap { UInt64($0) } ?? Self.defaultSeed
    let files = env["L7MP_DIFF_FILES"].flatMap { Int($0) } ?? Self.defaultFiles
    let packets = env["L7MP_DIFF_PACKETS"].flatMap { Int($0) } ?? Self.defaultPackets
    var pairs = 0
    var mismatches = 0
    var reported = 0
    var indexedLists = 0
    var matched = 0
    var rewritten = 0
    for n in 0..<files {
      let fileSeed = seed &+ UInt64(n) &* 0x9E37_79B9_7F4A_7C15
      var gen = RuleFileGenerator(seed: fileSeed)
      let file = gen.file()
      let checked = RuleChecker.check(SourceFile(name: "gen.rules", text: file.source))
      let errors = checked.diagnostics.filter { $0.severity == .error }
      guard errors.isEmpty else {
        Issue.record(
          "the generator wrote an ill-typed file (seed \(fileSeed)):\n\(errors.map(\.message).joined(separator: "\n"))\n\(file.source)"
        )
        return
      }
      let program: Program
      switch RuleCompiler.compile(checked) {
      case .success(let p): program = p
      case .failure(let e):
        Issue.record("seed \(fileSeed): compile error: \(e)\n\(file.source)")
        return
      }
      let verified: VerifiedProgram
      do {
        verified = try Verifier.verify(program)
      } catch {
        Issue.record(
          "seed \(fileSeed): the compiler's program fails verification: \(error)\n\(file.source)")
        return
      }
      indexedLists += program.code.count(where: { $0.op == .dispatch })
      for (proto, lists) in file.rulelists {
        for _ in 0..<packets {
          let literal = gen.packet(proto)
          let parsed: ParsedPacket
          do {
            parsed = try PacketLiteral.parse(literal)
          } catch {
            Issue.record("seed \(fileSeed): the generator wrote a bad packet: \(literal): \(error)")
            return
          }
          let again = try? PacketLiteral.parse(PacketLiteral.format(parsed))
          if again != parsed {
            Issue.record("format does not round-trip: \(literal) → \(PacketLiteral.format(parsed))")
          }
          for list in lists {
            pairs += 1
            let index = try #require(program.rulelist(named: list))
            let (verdict, rewrites) = VM.evaluate(verified, rulelist: index, packet: parsed.packet)
            let vmRule: (rulelist: String, name: String)? =
              verdict.matched
              ? (
                program.rulelists[program.rules[Int(verdict.rule)].rulelist].name,
                program.rules[Int(verdict.rule)].name
              ) : nil
            let ref = ReferenceEvaluator.evaluate(checked, rulelist: list, packet: parsed.packet)
            let sameRule = vmRule?.rulelist == ref.rule?.rulelist && vmRule?.name == ref.rule?.name
            let sameRewrites =
              rewrites.map(\.path) == ref.rewrites.map(\.path)
              && rewrites.map(\.value) == ref.rewrites.map(\.value)
            if vmRule != nil { matched += 1 }
            if !rewrites.isEmpty { rewritten += 1 }
            if sameRule && sameRewrites { continue }
            mismatches += 1
            if reported < 3 {
              reported += 1
              // The smallest file that still disagrees on this packet.
              let small = file.shrunk { Self.disagreement($0.source, list, parsed.packet) != nil }
              Issue.record(
                """
                VM and reference disagree (L7MP_DIFF_SEED=\(seed), file \(n), file seed \(fileSeed))
                rulelist: \(list)
                packet:   \(literal)
                \(Self.disagreement(small.source, list, parsed.packet) ?? "")
                --- rules (shrunk from \(file.lists.reduce(0) { $0 + $1.rules.count }) rules) ---
                \(small.source)
                """)
            }
          }
        }
      }
    }
    if env["L7MP_DIFF_STATS"] != nil {
      print(
        "differential: \(pairs) pairs, \(matched) matched a rule, \(rewritten) with rewrites, \(indexedLists) indexed rulelists"
      )
    }
    #expect(mismatches == 0, "\(mismatches) of \(pairs) (rule file, packet) pairs disagree")
    #expect(pairs >= 5000, "only \(pairs) pairs were tried")
    // The generator's long rulelists must reach the rule index.
    #expect(indexedLists > 0)
  }
}

extension DifferentialTests {
  /// How the VM and the reference disagree on `source`, or nil when they agree (or the source
  /// does not compile).
  static func disagreement(_ source: String, _ list: String, _ packet: OwnedPacket) -> String? {
    let checked = RuleChecker.check(SourceFile(name: "gen.rules", text: source))
    guard !checked.hasErrors, case .success(let program) = RuleCompiler.compile(checked),
      let verified = try? Verifier.verify(program), let index = program.rulelist(named: list)
    else { return nil }
    let (verdict, rewrites) = VM.evaluate(verified, rulelist: index, packet: packet)
    let vm: (rulelist: String, name: String)? =
      verdict.matched
      ? (
        program.rulelists[program.rules[Int(verdict.rule)].rulelist].name,
        program.rules[Int(verdict.rule)].name
      ) : nil
    let ref = ReferenceEvaluator.evaluate(checked, rulelist: list, packet: packet)
    if vm?.rulelist == ref.rule?.rulelist && vm?.name == ref.rule?.name
      && rewrites.map(\.path) == ref.rewrites.map(\.path)
      && rewrites.map(\.value) == ref.rewrites.map(\.value)
    {
      return nil
    }
    func show(_ r: (rulelist: String, name: String)?) -> String {
      r.map { "\($0.rulelist)/\($0.name)" } ?? "no match (dropped)"
    }
    return """
      VM:        \(show(vm)), rewrites \(rewrites)
      reference: \(show(ref.rule)), rewrites \(ref.rewrites)
      """
  }
}

/// SplitMix64: small, fast, and the same sequence everywhere.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The protocols a generated file has rulelists for, and what each can read.
enum GenProtocol: CaseIterable {
  case udp, tcp, ws, uds

  var ruleName: String {
    switch self {
    case .udp: "UDP"
    case .tcp: "TCP"
    case .ws: "WebSocket"
    case .uds: "UnixDomainSocket"
    }
  }
  var short: String {
    switch self {
    case .udp: "udp"
    case .tcp: "tcp"
    case .ws: "ws"
    case .uds: "uds"
    }
  }
  var hasPayload: Bool { self == .udp || self == .ws }
  var ports: [String] {
    switch self {
    case .udp: ["UDP.src_port", "UDP.dst_port"]
    case .tcp, .ws: ["TCP.src_port", "TCP.dst_port"]
    case .uds: []
    }
  }
  var hasIP: Bool { self != .uds }
  var hasStrings: Bool { self == .ws || self == .uds }
}

/// Random well-typed rule files and random packets, biased so that conditions both hit and miss.
struct RuleFileGenerator {
  var rng: SplitMix64

  init(seed: UInt64) { rng = SplitMix64(state: seed) }

  // MARK: pools

  static let tokens = [
    "hello", "INVITE ", "GET", "get", "/admin", "/api/v1", "x", "", "Mozilla", "curl", "abc", "ABC",
    "é", "ÄB", "a\nb", "SIP/2.0", "\u{0}", "AbC", "1", "42",
  ]
  static let ints: [Int64] = {
    var xs: [Int64] = [
      0, 1, 2, 3, 4, 5, 7, 8, 12, 40, 53, 80, 0x41, 0x47, 0x61, 0x80, 0xC0, 255, 256, 443, 1023,
      5060, 5061, 8080, 9001, 40000, 65535, 65536, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000_0000,
      Int64.max,
    ]
    for t in tokens {
      let b = Array(t.utf8)
      if b.count >= 2 { xs.append(Int64(b[0]) << 8 | Int64(b[1])) }
      if b.count >= 4 { xs.append(b[0..<4].reduce(0) { $0 << 8 | Int64($1) }) }
    }
    return xs
  }()
  static let masks: [Int64] = [0x01, 0x0F, 0x80, 0xC0, 0xFF, 0xFF00, 0xFFFF_FFFF, 0x1_0000_0000]
  static let v4 = [
    "10.0.0.1", "10.0.0.7", "10.0.1.5", "10.0.10.3", "10.0.100.200", "192.168.1.1", "127.0.0.1",
    "0.0.0.0", "255.255.255.255", "10.1.2.3",
  ]
  static let v6 = ["::1", "2001:db8::1", "2001:db8::ffff", "fe80::1", "::", "::ffff:10.0.0.1"]
  static let textPrefixes = [
    "10.0.0", "10.0.1", "10.0.", "10", "1", "192.168.1.1", "127.", "", "2", "10.0.10",
  ]
  static let headerNames = ["id", "User-Agent", "x-id", "X-Mixed", "accept"]
  static let headerValues = ["1", "curl", "Mozilla/5.0", "AbC", "", "42", "é"]
  static let methods = ["GET", "POST", "get", "HEAD"]
  static let paths = ["/", "/admin", "/api/v1/users", "/ADMIN/x", "/v2"]
  static let queries = ["", "x=1", "id=7&x=1"]
  static let hosts = ["example.com", "EXAMPLE.com", "a"]
  static let unixPaths = ["/var/run/sock/uds-echo.sock", "/tmp/a.sock", "rel"]
  static let labelKeys = ["a", "b", "ssrc", "kind"]
  static let patterns = [
    "^GET", "ab+c", "(?i)hello", "^$", "a|b", "[0-9]+", "x$", "\\d{2}", "^/api/v[0-9]+", "é",
    "^.{3}$", "(?i)^a", "^\\x00",
  ]
  static let ports: [Int] = [0, 53, 80, 443, 5060, 5061, 8080, 9001, 40000, 65535]

  // MARK: randomness

  mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
  mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
  mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }

  // MARK: constants

  mutating func intConst() -> String {
    let x = pick(Self.ints)
    return chance(0.2) ? "0x" + String(x, radix: 16) : String(x)
  }
  mutating func offset() -> String {
    switch int(0...9) {
    case 0...6: return String(int(0...6))
    case 7: return String(int(38...41))
    case 8: return String(pick([65535, 65536, 4_294_967_295, 4_294_967_296]))
    default: return String(int(0...12))
    }
  }
  mutating func strConst() -> String { Value.quote(pick(Self.tokens)) }
  mutating func bytesValue() -> [UInt8] {
    if chance(0.6) {
      let t = Array(pick(Self.tokens).utf8)
      return Array(t.prefix(int(0...t.count)))
    }
    return (0..<int(0...3)).map { _ in UInt8(truncatingIfNeeded: int(0...255)) }
  }
  mutating func bytesConst() -> String { Value.bytes(bytesValue()).description }
  mutating func address() -> String { chance(0.7) ? pick(Self.v4) : pick(Self.v6) }
  mutating func cidr() -> String {
    let a = address()
    let v6 = a.contains(":") && !a.hasPrefix("::ffff:")
    return a + "/" + String(v6 ? pick([0, 16, 32, 64, 127, 128]) : pick([0, 8, 16, 24, 31, 32]))
  }
  mutating func ipRange() -> String {
    let a = address()
    let b = address()
    let x = try! IPAddress.parse(a).get()
    let y = try! IPAddress.parse(b).get()
    return x <= y ? "\(a)..\(b)" : "\(b)..\(a)"
  }
  mutating func intSet() -> String {
    "{" + (0..<int(1...4)).map { _ in intConst() }.joined(separator: ", ") + "}"
  }
  mutating func intRange() -> String {
    let a = pick(Self.ints)
    let b = pick(Self.ints)
    return "\(min(a, b))..\(max(a, b))"
  }
  mutating func strSet() -> String {
    "{" + (0..<int(1...3)).map { _ in strConst() }.joined(separator: ", ") + "}"
  }
  mutating func bytesSet() -> String {
    "{" + (0..<int(1...3)).map { _ in bytesConst() }.joined(separator: ", ") + "}"
  }
  mutating func ipSet() -> String {
    "{" + (0..<int(1...3)).map { _ in chance(0.5) ? address() : cidr() }.joined(separator: ", ")
      + "}"
  }
  mutating func regex() -> String { Value.quote(pick(Self.patterns)) }
  mutating func cmp() -> String { pick(["==", "!=", "<", "<=", ">", ">="]) }
  mutating func label() -> String { "labels." + pick(Self.labelKeys) }

  // MARK: file state

  /// Named constants of the file, by kind: "int set", "ip set", "string set", "int", "cidr".
  var consts: [String: [String]] = [:]
  var constDecls: [String] = []
  /// Registers still free in the rule being written (the VM has 16 int, 7 byte-string and 4
  /// address registers per rule); expensive operands are only chosen while they fit.
  var intRegs = 0
  var bytesRegs = 0
  var ipRegs = 0

  mutating func resetRegisters() {
    intRegs = 12
    bytesRegs = 6
    ipRegs = 4
  }

  mutating func take(ints: Int = 0, bytes: Int = 0, ips: Int = 0) -> Bool {
    guard intRegs >= ints, bytesRegs >= bytes, ipRegs >= ips else { return false }
    intRegs -= ints
    bytesRegs -= bytes
    ipRegs -= ips
    return true
  }

  mutating func constant(_ kind: String, _ value: String) -> String {
    if let existing = consts[kind], chance(0.5) { return pick(existing) }
    let name = "k\(constDecls.count)"
    constDecls.append("const \(name) = \(value)")
    consts[kind, default: []].append(name)
    return name
  }

  // MARK: operands (not constants)

  mutating func intExpr(_ p: GenProtocol, _ depth: Int = 0) -> String {
    while true {
      switch int(0...9) {
      case 0, 1: if !p.ports.isEmpty { return pick(p.ports) }
      case 2: if p.hasPayload { return "payload[\(offset())]" }
      case 3:
        if p.hasPayload {
          return "\(pick(["u8", "u16", "u32"]))(\(bytesExpr(p, depth + 1)), \(offset()))"
        }
      case 4: if p.hasPayload { return "len(\(bytesExpr(p, depth + 1)))" }
      case 5: if p.hasStrings { return "len(\(stringExpr(p, depth + 1)))" }
      case 6: if depth < 2 { return "\(intExpr(p, depth + 1)) & \(pick(Self.masks))" }
      case 7: if p.hasPayload, depth < 2 { return "payload[\(intExpr(p, depth + 1))]" }
      case 8: if p.hasPayload { return "lower(payload)[\(offset())]" }
      case 9: if p.hasPayload { return "payload[\(label())]" }
      default: break
      }
    }
  }

  mutating func bytesExpr(_ p: GenProtocol, _ depth: Int = 0) -> String {
    switch int(0...7) {
    case 0, 1, 2: return "payload"
    case 3: return "payload[\(offset()):\(int(0...5))]"
    case 4: return "lower(payload)"
    case 5: return "lower(payload[\(int(0...4)):\(int(0...6))])"
    case 6: return "lower(payload)[\(int(0...4)):\(int(0...6))]"
    default: return "payload[\(int(0...3)):\(int(2...8))][\(int(0...2)):\(int(0...3))]"
    }
  }

  mutating func stringExpr(_ p: GenProtocol, _ depth: Int = 0) -> String {
    if p == .uds { return chance(0.7) ? "UNIX.filename" : "lower(UNIX.filename)" }
    let base: String
    switch int(0...6) {
    case 0: base = "HTTP.method"
    case 1: base = "HTTP.url.path"
    case 2: base = "HTTP.url.query"
    case 3: base = "HTTP.url.host"
    case 4: base = "HTTP.headers[\(Value.quote(headerName()))]"
    default: base = "HTTP.headers." + headerName()
    }
    return chance(0.3) ? "lower(\(base))" : base
  }

  mutating func headerName() -> String {
    let n = pick(Self.headerNames)
    return chance(0.3) ? n.uppercased() : chance(0.3) ? n.lowercased() : n
  }

  mutating func ipExpr(_ p: GenProtocol) -> String { chance(0.6) ? "IP.src_addr" : "IP.dst_addr" }

  // MARK: conditions

  mutating func condition(_ p: GenProtocol, _ depth: Int = 0) -> String {
    // Mostly single tests and short `and` chains, so that each test often decides the rule.
    if depth >= 2 || chance(depth == 0 ? 0.5 : 0.7) { return atom(p, depth) }
    switch int(0...9) {
    case 0...4:
      return (0..<int(2...3)).map { _ in condition(p, depth + 1) }
        .joined(separator: pick([" and ", " && "])).wrapped(depth > 0)
    case 5, 6:
      return (0..<int(2...3)).map { _ in condition(p, depth + 1) }
        .joined(separator: pick([" or ", " || "])).wrapped(depth > 0)
    case 7, 8: return pick(["not ", "!"]) + "(" + condition(p, depth + 1) + ")"
    default: return "(" + condition(p, depth + 1) + ")"
    }
  }

  mutating func atom(_ p: GenProtocol, _ depth: Int = 0) -> String {
    for _ in 0..<20 {
      switch int(0...15) {
      case 0, 1, 2: if let a = intAtom(p) { return a }
      case 3, 4: if p.hasPayload, let a = bytesAtom(p) { return a }
      case 5, 6: if p.hasStrings, let a = stringAtom(p) { return a }
      case 7, 8: if p.hasIP, let a = ipAtom(p) { return a }
      case 9, 10, 11: if let a = dynamicAtom(p) { return a }
      case 12: if let a = definedAtom(p) { return a }
      case 13:
        if depth < 2, take(ints: 2) {
          // A bare label is dynamic, and two dynamic values cannot be compared: make it a bool.
          func bool(_ a: String) -> String {
            a.hasPrefix("labels.") && !a.contains(" ") ? "not " + a : a
          }
          let a = bool(atom(p, 2))
          let b = chance(0.5) ? bool(atom(p, 2)) : pick(["true", "false"])
          return "(\(a)) \(pick(["==", "!="])) (\(b))"
        }
      case 14:
        return pick([
          "1 < 2", "2 <= 1", "\"ab\" starts \"a\"", "10.0.0.1 in 10.0.0.0/8", "true", "false",
          "x\"01\" == \"\\x01\"",
        ])
      default: if let a = keyedAtom(p) { return a }
      }
    }
    // Out of registers: a test that needs one int register.
    return "\(label()) \(cmp()) \(intConst())"
  }

  mutating func intAtom(_ p: GenProtocol) -> String? {
    guard take(ints: 4, bytes: 2) else { return nil }
    let x = intExpr(p)
    switch int(0...7) {
    case 0, 1: return "\(x) \(cmp()) \(intConst())"
    case 2: return "\(intConst()) \(cmp()) \(x)"
    case 3: return "\(x) \(pick(["in", "not in"])) \(intSet())"
    case 4: return "\(x) in \(intRange())"
    case 5: return "\(x) \(cmp()) \(intExpr(p))"
    case 6: return "\(x) in \(constant("int set", intSet()))"
    default: return "\(x) == \(constant("int", intConst()))"
    }
  }

  mutating func bytesAtom(_ p: GenProtocol) -> String? {
    guard take(ints: 2, bytes: 4) else { return nil }
    let b = bytesExpr(p)
    switch int(0...6) {
    case 6:
      // Against a transformed copy of itself: folded on one side, or a slice of it.
      let other = pick([
        "lower(\(b))", "\(b)[\(int(0...2)):\(int(0...4))]", "lower(\(b)[0:\(int(0...4))])",
      ])
      let op = pick(["==", "!=", "starts", "ends", "contains"])
      return chance(0.5) ? "\(b) \(op) \(other)" : "\(other) \(op) \(b)"
    case 0, 1:
      let c = chance(0.5) ? strConst() : bytesConst()
      return "\(b) \(pick(["==", "!=", "starts", "ends", "contains"])) \(c)"
    case 2: return "\(b) matches \(regex())"
    case 3: return "\(b) \(pick(["in", "not in"])) \(chance(0.5) ? strSet() : bytesSet())"
    case 4: return "\(b) \(pick(["==", "!=", "starts", "ends", "contains"])) \(bytesExpr(p))"
    default: return "\(bytesConst()) \(pick(["starts", "ends", "contains", "=="])) \(b)"
    }
  }

  mutating func stringAtom(_ p: GenProtocol) -> String? {
    guard take(ints: 1, bytes: 4) else { return nil }
    let s = stringExpr(p)
    switch int(0...7) {
    case 7:
      let op = pick(["==", "!=", "starts", "ends", "contains"])
      return chance(0.5) ? "\(s) \(op) lower(\(s))" : "lower(\(s)) \(op) \(s)"
    case 0, 1: return "\(s) \(pick(["==", "!=", "starts", "ends", "contains"])) \(strConst())"
    case 2: return "\(s) matches \(regex())"
    case 3: return "\(s) \(pick(["in", "not in"])) \(strSet())"
    case 4: return "\(s) \(pick(["==", "!=", "starts", "ends", "contains"])) \(stringExpr(p))"
    case 5: return "\(strConst()) \(pick(["starts", "ends", "contains", "=="])) \(s)"
    default: return "\(s) in \(constant("string set", strSet()))"
    }
  }

  mutating func ipAtom(_ p: GenProtocol) -> String? {
    guard take(ips: 2) else { return nil }
    let i = ipExpr(p)
    switch int(0...8) {
    case 0: return "\(i) \(pick(["==", "!="])) \(address())"
    case 1, 2: return "\(i) \(pick(["in", "not in"])) \(cidr())"
    case 3: return "\(i) in \(ipSet())"
    case 4: return "\(i) in \(ipRange())"
    case 5: return "\(i) starts \(Value.quote(pick(Self.textPrefixes)))"
    case 6: return "\(i) \(pick(["==", "!="])) \(ipExpr(p))"
    case 7: return "\(i) \(pick(["==", "!="])) \(Value.quote(pick(Self.v4)))"
    default: return "\(i) in \(constant("ip set", ipSet()))"
    }
  }

  mutating func dynamicAtom(_ p: GenProtocol) -> String? {
    guard take(ints: 3, bytes: 3, ips: 2) else { return nil }
    let d = label()
    switch int(0...12) {
    case 0, 1: return "\(d) \(cmp()) \(intConst())"
    case 2:
      return "\(d) \(pick(["==", "!=", "starts", "ends", "contains"])) \(strConst())"
    case 3: return "\(d) matches \(regex())"
    case 4: return "\(d) \(pick(["==", "!="])) \(address())"
    case 5: return "\(d) \(pick(["in", "not in"])) \(pick([cidr(), ipSet(), ipRange()]))"
    case 6:
      return "\(d) \(pick(["in", "not in"])) \(pick([intSet(), intRange(), strSet(), bytesSet()]))"
    case 7: return pick(["", "not ", "!"]) + d
    case 8:
      // Against a packet value of each kind (never two dynamic values: the compiler refuses).
      var others = [intExpr(p)]
      if p.hasPayload { others.append(bytesExpr(p)) }
      if p.hasStrings { others.append(stringExpr(p)) }
      if p.hasIP { others.append(ipExpr(p)) }
      let o = pick(others)
      return chance(0.5) ? "\(d) \(pick(["==", "!="])) \(o)" : "\(o) \(pick(["==", "!="])) \(d)"
    case 9: return "\(d) \(pick(["<", ">=", "=="])) \(pick(["2s", "1ms", "0s"]))"
    case 10: return "\(d) & \(pick(Self.masks)) == \(intConst())"
    case 11:
      return pick([
        "len(\(d)) > \(int(0...5))", "lower(\(d)) == \(strConst())", "\(d)[0] == \(intConst())",
        "u16(\(d), \(int(0...2))) == \(intConst())", "\(d)[0:2] == \(bytesConst())",
      ])
    default:
      if p.hasPayload { return "payload[\(d)] == \(intConst())" }
      return "\(d) == \(intConst())"
    }
  }

  mutating func definedAtom(_ p: GenProtocol) -> String? {
    guard take(ints: 1, bytes: 1, ips: 1) else { return nil }
    var fields = [label(), label()]
    if p == .ws {
      fields += ["HTTP.headers." + headerName(), "HTTP.url.host", "HTTP.headers." + headerName()]
    }
    if p.hasPayload { fields.append("payload") }
    return pick(["", "not "]) + "defined(\(pick(fields)))"
  }

  /// A test the rule index can key on: a port, an address, a byte prefix against constants.
  mutating func keyedAtom(_ p: GenProtocol) -> String? {
    var options: [Int] = []
    if !p.ports.isEmpty { options += [0, 1, 2] }
    if p.hasIP { options += [3, 4] }
    if p.hasPayload { options.append(5) }
    if p == .ws { options += [6, 7] }
    if p == .uds { options.append(8) }
    let port = p.ports.isEmpty ? "" : pick(p.ports)
    switch pick(options) {
    case 0: return "\(port) == \(pick(Self.ports))"
    case 1: return "\(port) in {\(pick(Self.ports)), \(pick(Self.ports))}"
    case 2:
      let a = pick(Self.ports)
      let b = pick(Self.ports)
      return "\(port) in \(min(a, b))..\(max(a, b))"
    case 3: return "\(ipExpr(p)) in \(chance(0.5) ? cidr() : ipSet())"
    case 4: return "\(ipExpr(p)) starts \(Value.quote(pick(Self.textPrefixes)))"
    case 5: return "payload starts \(chance(0.7) ? strConst() : bytesConst())"
    case 6:
      return "HTTP.url.path starts \(Value.quote(String(pick(Self.paths).prefix(int(0...4)))))"
    case 7: return "HTTP.method starts \(Value.quote(pick(Self.methods)))"
    default:
      return "UNIX.filename starts \(Value.quote(String(pick(Self.unixPaths).prefix(int(0...6)))))"
    }
  }

  // MARK: actions

  mutating func setAction(_ p: GenProtocol) -> String? {
    let stringTarget = chance(0.35)
    let target: String
    if stringTarget {
      target = pick([
        "HTTP.headers." + headerName(), "HTTP.headers." + headerName(), "HTTP.method",
        "HTTP.url.path", "HTTP.url.host",
      ])
    } else {
      target = label()
    }
    var values: [String] = [intConst(), strConst(), pick(["true", "false"]), address()]
    if !stringTarget { values += [bytesConst(), pick(["2s", "500ms"])] }
    if take(ints: 3, bytes: 2) { values.append(intExpr(p)) }
    if p.hasPayload, !stringTarget, take(bytes: 3) { values.append(bytesExpr(p)) }
    if p.hasStrings, take(bytes: 2) { values.append(stringExpr(p)) }
    if p.hasIP, take(ips: 1) { values.append(ipExpr(p)) }
    if take(ints: 1, bytes: 1, ips: 1) { values.append(label()) }
    if take(ints: 3, bytes: 2, ips: 1) { values.append("(" + atom(p, 2) + ")") }
    return "set \(target) = \(pick(values))"
  }

  mutating func terminal(_ later: [String]) -> String {
    let r = int(0...9)
    if r < 2 { return "drop" }
    if r < 5, !later.isEmpty { return "apply " + pick(later) }
    var s = "route to " + pick(["worker", "media", "sip-proxy", "backend.ns"])
    if chance(0.3) { s += " via " + pick(["transcoder", "recorder"]) }
    if chance(0.2) { s += " return via codec" }
    if chance(0.3) {
      s +=
        " with "
        + pick([
          "retry_on = \"connect-failure\", retries = 3", "timeout = 500ms",
          "remove_orphan_sessions = true", "idle_timeout = 5m",
        ])
    }
    return s
  }

  mutating func rule(
    _ p: GenProtocol, _ k: Int, last: Bool, long: Bool, later: [String]
  ) -> GenRule {
    resetRegisters()
    var head = "rule r\(k)"
    if long, chance(0.8), let key = keyedAtom(p) {
      head += " when " + key + (chance(0.4) ? " and " + atom(p, 1) : "")
    } else if chance(last ? 0.6 : 0.97) {
      head += " when " + condition(p)
    }
    var actions: [String] = []
    for _ in 0..<pick([0, 0, 1, 1, 2]) {
      if let s = setAction(p) { actions.append(s) }
    }
    actions.append(terminal(later))
    return GenRule(head: head, actions: actions)
  }

  // MARK: files

  struct GenRule {
    /// `rule r3 when …`
    var head: String
    /// The `set`s, then the route, drop or apply.
    var actions: [String]
  }

  struct GenList {
    var name: String
    var proto: GenProtocol
    var rules: [GenRule]
  }

  struct File {
    var consts: [String]
    /// In file order.
    var lists: [GenList]
    /// Each protocol's rulelists, in the order `apply` follows.
    var rulelists: [(GenProtocol, [String])]

    var source: String {
      consts.map { $0 + "\n" }.joined()
        + lists.map { l in
          "rulelist \(l.name) for \(l.proto.ruleName) {\n"
            + l.rules.map { r in
              "  \(r.head) {\n" + r.actions.map { "    " + $0 + "\n" }.joined() + "  }\n"
            }.joined() + "}\n"
        }.joined(separator: "\n")
    }

    /// Smaller files that still have `property`: whole rulelists, rules, `set`s, conditions and
    /// constants left out one at a time, while that keeps it.
    func shrunk(while property: (File) -> Bool) -> File {
      var best = self
      var tries = 0
      func attempt(_ f: File) -> Bool {
        tries += 1
        guard tries < 2000, property(f) else { return false }
        best = f
        return true
      }
      var changed = true
      while changed {
        changed = false
        for i in best.lists.indices.reversed() where !changed {
          var f = best
          f.lists.remove(at: i)
          changed = attempt(f)
        }
        for i in best.lists.indices where !changed {
          for j in best.lists[i].rules.indices.reversed() where !changed {
            var f = best
            f.lists[i].rules.remove(at: j)
            changed = attempt(f)
            if changed { break }
            let head = best.lists[i].rules[j].head
            if let when = head.range(of: " when ") {
              var g = best
              g.lists[i].rules[j].head = String(head[..<when.lowerBound])
              changed = attempt(g)
            }
            if changed { break }
            for a in best.lists[i].rules[j].actions.indices.dropLast().reversed() where !changed {
              var g = best
              g.lists[i].rules[j].actions.remove(at: a)
              changed = attempt(g)
            }
          }
        }
        for c in best.consts.indices.reversed() where !changed {
          var f = best
          f.consts.remove(at: c)
          changed = attempt(f)
        }
      }
      return best
    }
  }

  mutating func file() -> File {
    consts = [:]
    constDecls = []
    var bodies: [GenList] = []
    var lists: [(GenProtocol, [String])] = []
    for p in GenProtocol.allCases {
      let names = (0..<int(1...3)).map { "\(p.short)-\($0)" }
      lists.append((p, names))
      for (i, name) in names.enumerated() {
        let later = Array(names[(i + 1)...])
        let long = chance(0.12)
        let count = long ? int(16...22) : int(1...8)
        var list = GenList(name: name, proto: p, rules: [])
        for k in 0..<count {
          list.rules.append(rule(p, k, last: k == count - 1, long: long, later: later))
        }
        bodies.append(list)
      }
    }
    // Rulelists in a shuffled order: `apply` may go backwards in the file.
    bodies.shuffle(using: &rng)
    return File(consts: constDecls, lists: bodies, rulelists: lists)
  }

  // MARK: packets

  mutating func payloadLiteral() -> String {
    var bytes: [UInt8] = []
    let target = pick([0, 0, 1, 2, 3, 4, 5, 8, 12, 20, 40])
    while bytes.count < target {
      if chance(0.6) {
        bytes += Array(pick(Self.tokens).utf8)
      } else {
        bytes.append(UInt8(truncatingIfNeeded: int(0...255)))
      }
    }
    if chance(0.7) { bytes = Array(bytes.prefix(40)) }
    if bytes.isEmpty && chance(0.5) { return "" }
    return " payload " + PacketLiteral.formatBytes(bytes)
  }

  mutating func endpoint() -> String {
    let a = address()
    let text = a.contains(":") ? "[\(a)]" : a
    return "\(text):\(chance(0.8) ? pick(Self.ports) : int(0...65535))"
  }

  mutating func labelsLiteral() -> String {
    guard chance(0.6) else { return "" }
    var keys = Self.labelKeys
    keys.shuffle(using: &rng)
    let items = keys.prefix(int(1...3)).map { key -> String in
      let value: String
      switch int(0...3) {
      case 0: value = String(pick(Self.ints))
      case 1: value = PacketLiteral.formatBytes(bytesValue())
      case 2: value = address()
      default: value = String(int(0...3))
      }
      return "\(key): \(value)"
    }
    return " labels {" + items.joined(separator: ", ") + "}"
  }

  mutating func packet(_ p: GenProtocol) -> String {
    switch p {
    case .udp:
      return "udp \(endpoint()) -> \(endpoint())\(labelsLiteral())\(payloadLiteral())"
    case .tcp:
      return "tcp \(endpoint()) -> \(endpoint())\(labelsLiteral())"
    case .uds:
      return "uds \(Value.quote(pick(Self.unixPaths)))\(labelsLiteral())"
    case .ws:
      var s = "ws \(endpoint()) -> \(endpoint())"
      if chance(0.8) {
        let q = pick(Self.queries)
        s += " \(pick(Self.methods)) \(pick(Self.paths))\(q.isEmpty ? "" : "?" + q)"
      }
      if chance(0.3) { s += " host \(Value.quote(pick(Self.hosts)))" }
      if chance(0.7) {
        let headers = (0..<int(0...3)).map { _ in
          "\(Value.quote(headerName())): \(Value.quote(pick(Self.headerValues)))"
        }
        s += " headers {" + headers.joined(separator: ", ") + "}"
      }
      return s + labelsLiteral() + payloadLiteral()
    }
  }
}

extension String {
  fileprivate func wrapped(_ yes: Bool) -> String { yes ? "(" + self + ")" : self }
}
