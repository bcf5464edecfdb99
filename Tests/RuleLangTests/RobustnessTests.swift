import Foundation
import Testing

@testable import RuleLang

// Robustness of the rule-language front end: whatever bytes come in, `RuleChecker.check` returns
// (no crash, no hang, no stack overflow), every diagnostic points inside the source, an input that
// is not a valid rule file gets at least one error, and both renderers work on the result.
//
// Every generated input comes from a fixed seed, so a failure names the seed and the iteration and
// can be replayed. A crash kills the test process before it can say which input did it: run with
// RULELANG_ROBUST_TRACE=1 to print each input's label before it is checked.

// MARK: - Inputs

/// examples/gateway.rules, embedded so that the tests read nothing outside the bundle.
private let gatewayRules = """
  // The seed's gateway rules, for listener my-udp-endpoint (UDP): DESIGN.md's example.
  const gateway_net = 10.0.0.0/24
  const sip_ports   = {5060, 5061}

  rulelist my-udp-endpoint for UDP {
    rule from-gateway when IP.src_addr starts "10.0.0" and UDP.src_port == 9001 {
      set HTTP.headers.id = 1
      route to worker via transcoder
      with remove_orphan_sessions = true
    }
    rule sip when UDP.dst_port in sip_ports and payload starts "INVITE " {
      route to sip-proxy via transcoder, codec return via codec
      with retry_on = "connect-failure", retries = 3, timeout = 2s
    }
    rule rtp when IP.src_addr in gateway_net and payload[0] & 0xc0 == 0x80 and len(payload) >= 12 {
      set labels.ssrc = u32(payload, 8)
      route to media
    }
    rule everything-else {
      drop
    }
  }

  """

/// Pieces of rule source: keywords, names, literals good and bad, operators, and junk.
private let vocabulary: [String] = [
  "const", "rulelist", "for", "rule", "when", "set", "route", "to", "via", "return", "with",
  "drop", "apply", "and", "or", "not", "in", "starts", "ends", "contains", "matches", "true",
  "false", "UDP", "TCP", "WebSocket", "UnixDomainSocket", "JSONSocket", "udp", "IP.src_addr",
  "IP.dst_addr", "UDP.src_port", "UDP.dst_port", "TCP.dst_port", "HTTP.method", "HTTP.url.path",
  "HTTP.headers.id", "HTTP.headers", "HTTP", "UNIX.filename", "labels.x", "labels",
  "JSONSocket.a.b", "payload", "len", "lower", "defined", "u8", "u16", "u32", "gateway_net",
  "sip_ports", "my-udp-endpoint", "x", "a-b.c", "_", "retry_on", "retries", "timeout",
  "idle_timeout", "remove_orphan_sessions", "0", "1", "12", "255", "65536", "0xc0", "0x",
  "0xfffffffffffffffff", "9223372036854775807", "99999999999999999999", "\"s\"", "\"\"",
  "\"a\\\"b\"", "\"\\x41\"", "\"\\u{1F600}\"", "\"\\u{D800}\"", "\"\\q\"", "\"10.0.0\"",
  "\"10.0.1\"",
  "\"connect-failure\"", "\"[a-z]+\"", "\"(\"", "\"a{1000}{1000}\"", "\"((((a))))\"", "'x'",
  "x\"80 00\"", "x\"8\"", "x\"zz\"", "10.0.0.1", "10.0.0.0/24", "10.0.0.1/24", "300.1.1.1",
  "1.2.3", "::1", "2001:db8::/32", "fe80::", ":::", "1:2:3:4:5:6:7:8", "2s", "500ms", "1m30s",
  "5xs", "0s", "99999999999h", "1..10", "10..1", "..", "(", ")", "{", "}", "[", "]", ",", ":",
  "=", "==", "!=", "<", "<=", ">", ">=", "&", "&&", "||", "|", "!", ".", "-", "/", "//", "/*",
  "*/", "\n", "@", "#", "\"", "x\"", "\\", "é", "\u{0}", "\u{7F}", "\t",
]

private let brackets: Set<UInt8> = Set("(){}[]".utf8)
/// Characters that no valid rule file has outside strings and comments.
private let neverValid: [String] = [
  "@", "#", "$", "%", "^", "`", "~", "?", ";", "\\", "é", "\u{0}", "\u{1}", "\u{FFFD}",
]

// MARK: - Seeded randomness

/// SplitMix64: small, fast, and the same on every platform.
private struct SplitMix64 {
  var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A number in 0..<n (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

  mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

/// The generator for iteration `i` of a test seeded with `seed`: any one iteration can be replayed.
private func generator(_ seed: UInt64, _ i: Int) -> SplitMix64 {
  var g = SplitMix64(seed: seed ^ (UInt64(i) &* 0xD1B5_4A32_D192_ED03))
  _ = g.next()
  return g
}

private func hex(_ seed: UInt64) -> String { "0x" + String(seed, radix: 16) }

// MARK: - The checks on one input

private let traceInputs = ProcessInfo.processInfo.environment["RULELANG_ROBUST_TRACE"] != nil

/// Checks one input; returns what is wrong (nothing when all is well). `mustFail`: the input is
/// known not to be a valid rule file. `mustPass`: it is known to be valid (warnings allowed).
private func problems(
  _ bytes: [UInt8], _ label: String, mustFail: Bool = false, mustPass: Bool = false,
  timeLimit: Duration? = .seconds(5)
) -> [String] {
  if traceInputs { print("robustness: \(label) (\(bytes.count) bytes)") }
  let text = String(decoding: bytes, as: UTF8.self)
  let source = SourceFile(name: "fuzz.rules", text: text)
  let clock = ContinuousClock()
  let started = clock.now
  let checked = RuleChecker.check(source)
  let elapsed = clock.now - started
  if traceInputs { print("robustness: checked in \(elapsed)") }
  var out: [String] = []
  func fail(_ what: String) { out.append("\(label): \(what)") }

  if let timeLimit, elapsed > timeLimit { fail("took \(elapsed), more than \(timeLimit)") }
  let diagnostics = checked.diagnostics
  let size = source.bytes.count
  func inside(_ r: SourceRange) -> Bool { 0 <= r.start && r.start <= r.end && r.end <= size }
  for d in diagnostics {
    if !inside(d.range) { fail("range \(d.range) outside 0...\(size): \(d.message)") }
    if d.message.isEmpty { fail("empty message at \(d.range)") }
    if d.message.utf8.count > Diagnostic.maxMessageLength + 3 {
      fail("a message of \(d.message.utf8.count) bytes: \(d.message.prefix(100))…")
    }
    for f in d.fixIts where !inside(f.range) {
      fail("fix-it range \(f.range) outside 0...\(size): \(d.message)")
    }
    for n in d.notes {
      if let r = n.range, !inside(r) { fail("note range \(r) outside 0...\(size): \(n.message)") }
    }
  }
  if diagnostics.count > DiagnosticBag.limit {
    fail("\(diagnostics.count) diagnostics, more than the limit of \(DiagnosticBag.limit)")
  }
  if zip(diagnostics, diagnostics.dropFirst()).contains(where: { $0.range.start > $1.range.start })
  {
    fail("diagnostics are not in source order")
  }

  // Whatever the checker says must agree with what the lexer and parser found (parsing twice is
  // left out for the huge inputs, to keep the tests quick).
  if size < 1 << 18 {
    let (_, parseDiagnostics) = Parser.parse(source)
    if parseDiagnostics.hasErrors, !checked.hasErrors {
      fail("the parser reported \(parseDiagnostics.diagnostics[0].message) but check has no error")
    }
  }
  let file = checked.file
  if !checked.hasErrors, let bad = firstErrorNode(file) {
    fail("an unreported syntax error node at \(bad)")
  }
  if mustFail, !checked.hasErrors { fail("an invalid rule file got no error") }
  if mustPass, checked.hasErrors {
    fail("a valid rule file got errors: \(diagnostics.filter { $0.severity == .error }.prefix(3))")
  }
  if !checked.hasErrors, size < 1 << 18 { out += roundTripProblems(checked.file, label) }

  // Both renderers must cope with every diagnostic.
  let renderer = DiagnosticRenderer()
  for d in diagnostics {
    let loc = source.location(of: d.range.start)
    let rendered = renderer.render(d, in: source)
    let header = "fuzz.rules:\(loc.line):\(loc.column): \(d.severity.rawValue): "
    if !rendered.hasPrefix(header) { fail("rendered diagnostic does not start with '\(header)'") }
    if rendered.utf8.count > 20_000 {
      fail("a diagnostic renders to \(rendered.utf8.count) bytes: \(rendered.prefix(100))…")
    }
  }
  let colored = DiagnosticRenderer(color: true).render(diagnostics, in: source)
  if !diagnostics.isEmpty, colored.isEmpty { fail("colored rendering is empty") }
  let json = DiagnosticJSON.render([(source, diagnostics)])
  let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any]
  if parsed?.count != diagnostics.count {
    fail("DiagnosticJSON is not a JSON array of \(diagnostics.count) objects: \(json.prefix(300))")
  }
  return out
}

/// The range of an `.error` expression anywhere in the tree, if there is one.
private func firstErrorNode(_ file: RuleFile) -> SourceRange? {
  for e in expressions(file) {
    if let r = firstErrorNode(e) { return r }
  }
  return nil
}

private func firstErrorNode(_ e: Expr) -> SourceRange? {
  if case .error = e.kind { return e.range }
  for c in children(e) {
    if let r = firstErrorNode(c) { return r }
  }
  return nil
}

private func children(_ e: Expr) -> [Expr] {
  switch e.kind {
  case .integer, .string, .bytes, .ip, .cidr, .duration, .bool, .path, .error: return []
  case .set(let xs), .logical(_, let xs), .call(_, let xs): return xs
  case .range(let a, let b), .index(let a, let b), .binary(_, let a, let b, _): return [a, b]
  case .slice(let a, let b, let c): return [a, b, c]
  case .not(let x), .paren(let x): return [x]
  }
}

/// Every top-level expression of a file: const values, conditions, and action operands.
private func expressions(_ file: RuleFile) -> [Expr] {
  var out = file.constants.map(\.value)
  for list in file.rulelists {
    for rule in list.rules {
      if let c = rule.condition { out.append(c) }
      for action in rule.actions {
        switch action {
        case .set(let target, let value, _): out += [target, value]
        case .route(let r): out += r.options.map(\.value)
        case .drop, .apply: break
        }
      }
    }
  }
  return out
}

/// For a file without errors: printing an expression and parsing the print gives the same print.
private func roundTripProblems(_ file: RuleFile, _ label: String) -> [String] {
  var out: [String] = []
  for e in expressions(file) {
    let printed = ExprPrinter.print(e)
    var parser = Parser(SourceFile(name: "printed", text: printed))
    let again = parser.parseExpression()
    let reprinted = ExprPrinter.print(again)
    if parser.diagnostics.hasErrors || !parser.at(.endOfFile) || reprinted != printed {
      out.append(
        "\(label): printing '\(printed)' does not parse back to itself"
          + " (\(parser.diagnostics.diagnostics.first?.message ?? reprinted))")
    }
  }
  return out
}

/// Fails the test with the first few problems of a batch.
private func report(
  _ found: [String], _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  #expect(
    found.isEmpty,
    "\(found.count) problem(s) in \(what); first: \(found.prefix(5).joined(separator: "\n"))",
    sourceLocation: sourceLocation)
}

// MARK: - Generators

private func randomBytes(_ g: inout SplitMix64) -> [UInt8] {
  let count = g.chance(5) ? g.below(4096) : g.below(256)
  let alphabet = Array("(){}[]\"'x:.,=!<>&|/*\\-_ \n\t0123456789abcdefABCDEF".utf8)
  let style = g.below(4)
  return (0..<count).map { _ in
    switch style {
    case 0: return UInt8(truncatingIfNeeded: g.next())  // anything: NULs, controls, bad UTF-8
    case 1: return UInt8(0x20 + g.below(95))  // printable ASCII
    case 2: return g.pick(alphabet)
    default:
      switch g.below(10) {
      case 0: return 0
      case 1: return UInt8(g.below(32))
      case 2: return UInt8(0x80 + g.below(128))
      case 3...5: return g.pick(alphabet)
      default: return UInt8(0x20 + g.below(95))
      }
    }
  }
}

private func randomTokens(_ g: inout SplitMix64) -> [UInt8] {
  var out = ""
  for _ in 0..<(1 + g.below(120)) {
    out += g.pick(vocabulary)
    out += g.chance(85) ? " " : g.chance(50) ? "\n" : ""
  }
  return Array(out.utf8)
}

/// A rule file that is mostly well-formed, with random (often ill-typed) expressions.
private func structuredFile(_ g: inout SplitMix64) -> [UInt8] {
  let protocols = ["UDP", "TCP", "WebSocket", "UnixDomainSocket", "JSONSocket"]
  var consts: [String] = []
  var out = ""
  for k in 0..<g.below(3) {
    let name = "c\(k)"
    out += "const \(name) = \(expression(&g, depth: 2, consts: consts))\n"
    consts.append(name)
  }
  let lists = (0..<(1 + g.below(2))).map { "list\($0)" }
  for list in lists {
    out += "rulelist \(list) for \(g.pick(protocols)) {\n"
    for r in 0..<g.below(5) {
      out += "  rule r\(r)"
      if g.chance(80) { out += " when \(expression(&g, depth: 3, consts: consts))" }
      out += " {\n"
      for _ in 0..<g.below(2) {
        out +=
          "    set \(g.pick(["labels.k", "HTTP.headers.x-id", "HTTP.url.path", "IP.src_addr"]))"
        out += " = \(expression(&g, depth: 1, consts: consts))\n"
      }
      switch g.below(4) {
      case 0: out += "    drop\n"
      case 1: out += "    apply \(g.pick(lists))\n"
      default:
        out += "    route to svc"
        if g.chance(30) { out += " via a, b" }
        if g.chance(20) { out += " return via c" }
        if g.chance(40) {
          let options = [
            "retry_on", "retries", "timeout", "idle_timeout", "remove_orphan_sessions",
          ]
          let opts = (0..<(1 + g.below(3))).map { _ in
            "\(g.pick(options)) = \(expression(&g, depth: 0, consts: consts))"
          }
          out += " with " + opts.joined(separator: ", ")
        }
        out += "\n"
      }
      out += "  }\n"
    }
    out += "}\n"
  }
  return Array(out.utf8)
}

private func expression(_ g: inout SplitMix64, depth: Int, consts: [String]) -> String {
  let atoms = [
    "IP.src_addr", "IP.dst_addr", "UDP.src_port", "UDP.dst_port", "TCP.src_port", "HTTP.method",
    "HTTP.headers.id", "HTTP.headers[\"x-a\"]", "HTTP.url.path", "UNIX.filename", "labels.k",
    "JSONSocket.a.b", "payload", "payload[0]", "payload[2:4]", "1", "0", "80", "70000", "0xc0",
    "\"GET\"", "\"get\"", "\"10.0.0\"", "\"10.0.1\"", "\"a\\nb\"", "\"é\\t\\\\\"", "x\"80 00\"",
    "x\"\"", "10.0.0.1", "10.0.0.0/24", "10.0.0.7/24", "::1", "2001:db8::/32", "2s", "1m30s",
    "true", "false", "{1, 2}", "{}", "{\"a\", \"b\"}", "{10.0.0.1, 10.0.0.0/8}", "1..10",
    "10.0.0.1..10.0.0.9", "\"[a-z]+\"", "\"(a\"",
  ]
  if depth == 0 || g.chance(30) {
    return consts.isEmpty || g.chance(80) ? g.pick(atoms) : g.pick(consts)
  }
  func sub() -> String { expression(&g, depth: depth - 1, consts: consts) }
  switch g.below(9) {
  case 0, 1:
    let op = g.pick([
      "==", "!=", "<", "<=", ">", ">=", "in", "not in", "starts", "ends", "contains", "matches",
    ])
    return "\(sub()) \(op) \(sub())"
  case 2:
    return (0..<(2 + g.below(3))).map { _ in sub() }.joined(
      separator: g.pick([" and ", " or ", " && "]))
  case 3: return "not \(sub())"
  case 4: return "(\(sub()))"
  case 5:
    let fn = g.pick(["len", "lower", "defined", "u8", "u16", "u32", "upper"])
    return "\(fn)(\((0..<(1 + g.below(2))).map { _ in sub() }.joined(separator: ", ")))"
  case 6: return "\(sub()) & \(sub())"
  case 7: return "{\(sub()), \(sub())}"
  default: return "\(sub())[\(sub())]"
  }
}

/// The byte offset where each token of `text` starts.
private func tokenStarts(_ text: String) -> [Int] {
  Lexer.tokenize(SourceFile(name: "t", text: text)).tokens.dropLast().map(\.range.start)
}

private func mutate(_ base: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
  var s = base
  for _ in 0..<(1 + g.below(4)) {
    let at = g.below(s.count + 1)
    switch g.below(6) {
    case 0 where !s.isEmpty:  // flip a bit
      s[min(at, s.count - 1)] ^= UInt8(1) << UInt8(g.below(8))
    case 1 where !s.isEmpty:  // overwrite a byte
      s[min(at, s.count - 1)] =
        g.chance(50) ? UInt8(truncatingIfNeeded: g.next()) : g.pick(Array("(){}[]\":.,=&|!\\".utf8))
    case 2:  // delete a span
      s.removeSubrange(at..<min(s.count, at + 1 + g.below(16)))
    case 3:  // insert a token
      s.insert(
        contentsOf: Array((" " + g.pick(vocabulary) + (g.chance(70) ? " " : "")).utf8), at: at)
    case 4:  // duplicate a span somewhere else
      let from = g.below(s.count + 1)
      let span = Array(s[from..<min(s.count, from + 1 + g.below(64))])
      s.insert(contentsOf: span, at: g.below(s.count + 1))
    default:  // swap two spans' order: move a span
      let from = g.below(s.count + 1)
      let end = min(s.count, from + 1 + g.below(32))
      let span = Array(s[from..<end])
      s.removeSubrange(from..<end)
      s.insert(contentsOf: span, at: g.below(s.count + 1))
    }
  }
  return s
}

private func repeated(_ piece: String, _ n: Int) -> String { String(repeating: piece, count: n) }

// MARK: - Tests

@Suite struct RobustnessTests {
  @Test func gatewayExampleIsValid() {
    let checked = RuleChecker.check(SourceFile(name: "gateway.rules", text: gatewayRules))
    #expect(!checked.hasErrors, "\(checked.diagnostics)")
    report(problems(Array(gatewayRules.utf8), "gateway.rules", mustPass: true), "the example")
  }

  @Test func randomBytesNeverCrash() {
    let seed: UInt64 = 0x5EED_0001
    var found: [String] = []
    for i in 0..<1200 {
      var g = generator(seed, i)
      found += problems(randomBytes(&g), "random bytes seed \(hex(seed)) iteration \(i)")
    }
    report(found, "random byte strings")
  }

  @Test func randomTokenStreamsNeverCrash() {
    let seed: UInt64 = 0x5EED_0002
    var found: [String] = []
    for i in 0..<1000 {
      var g = generator(seed, i)
      found += problems(randomTokens(&g), "random tokens seed \(hex(seed)) iteration \(i)")
    }
    report(found, "random token streams")
  }

  @Test func structuredRandomFilesNeverCrash() {
    let seed: UInt64 = 0x5EED_0003
    var found: [String] = []
    for i in 0..<1000 {
      var g = generator(seed, i)
      found += problems(structuredFile(&g), "structured file seed \(hex(seed)) iteration \(i)")
    }
    report(found, "structured random files")
  }

  @Test func mutatedExampleNeverCrashes() {
    let seed: UInt64 = 0x5EED_0004
    let base = Array(gatewayRules.utf8)
    var found: [String] = []
    for i in 0..<3000 {
      var g = generator(seed, i)
      found += problems(mutate(base, &g), "mutation seed \(hex(seed)) iteration \(i)")
    }
    report(found, "mutations of gateway.rules")
  }

  /// Mutations known to break the file must get an error.
  @Test func breakingMutationsGetAnError() {
    let seed: UInt64 = 0x5EED_0005
    let starts = tokenStarts(gatewayRules)
    let base = Array(gatewayRules.utf8)
    var found: [String] = []
    // A character that is never valid outside strings and comments, at any token's start.
    for (k, at) in starts.enumerated() {
      var g = generator(seed, k)
      var s = base
      s.insert(contentsOf: Array(g.pick(neverValid).utf8), at: at)
      found += problems(s, "bad character before token \(k) (seed \(hex(seed)))", mustFail: true)
    }
    // Any one bracket removed.
    for at in starts where brackets.contains(base[at]) {
      var s = base
      s.remove(at: at)
      found += problems(s, "bracket at byte \(at) removed", mustFail: true)
    }
    // A declaration or a rule given twice.
    for line in ["const gateway_net = 10.0.0.0/24\n", "rule everything-else {\n    drop\n  }\n"] {
      var s = gatewayRules
      let r = s.range(of: line)!
      s.insert(contentsOf: line, at: r.lowerBound)
      found += problems(Array(s.utf8), "duplicated '\(line.prefix(20))'", mustFail: true)
    }
    report(found, "breaking mutations")
  }

  @Test func everyPrefixOfTheExample() {
    let base = Array(gatewayRules.utf8)
    let listStart = gatewayRules.utf8.distance(
      from: gatewayRules.startIndex, to: gatewayRules.range(of: "rulelist")!.lowerBound)
    let listEnd = base.lastIndex(of: UInt8(ascii: "}"))!
    var found: [String] = []
    for n in 0...base.count {
      // Cut anywhere from the 'r' of 'rulelist' up to its closing brace, the file is incomplete.
      let incomplete = n > listStart && n <= listEnd
      found += problems(Array(base[..<n]), "prefix of \(n) bytes", mustFail: incomplete)
      // And the rest of the file after a cut.
      found += problems(Array(base[n...]), "suffix from byte \(n)")
    }
    report(found, "truncations of gateway.rules")
  }

  @Test func deepNestingIsRefusedWithADiagnostic() {
    let n = 10_000
    let inCondition: [(String, String)] = [
      ("parentheses", repeated("(", n) + "true" + repeated(")", n)),
      ("unclosed parentheses", repeated("(", n)),
      ("nots", repeated("not ", n) + "true"),
      ("bangs", repeated("!", n) + "true"),
      ("nots around parentheses", repeated("not (", n) + "true" + repeated(")", n)),
      ("braces", repeated("{", n) + "1" + repeated("}", n)),
      ("brackets", "payload" + repeated("[", n) + "0" + repeated("]", n)),
      ("index chain", "payload" + repeated("[0]", n) + " == 1"),
      ("header chain", "HTTP.headers" + repeated("[\"x\"]", n) + " == \"a\""),
      ("calls", repeated("len(", n) + "payload" + repeated(")", n) + " > 1"),
      ("masks", "payload[0]" + repeated(" & 1", n) + " == 1"),
      ("comparison chain", repeated("1 == ", n) + "1"),
      ("ranges", repeated("1..", n) + "1"),
    ]
    var found: [String] = []
    for (name, condition) in inCondition {
      let text = "rulelist l for UDP {\n  rule r when \(condition) {\n    drop\n  }\n}\n"
      found += problems(
        Array(text.utf8), "\(n) \(name) in a condition", mustFail: true, timeLimit: nil)
      let asConst = "const c = \(condition)\n"
      found += problems(
        Array(asConst.utf8), "\(n) \(name) in a const", mustFail: true, timeLimit: nil)
    }
    for (name, text) in [
      ("top-level braces", repeated("{", n)),
      ("top-level brackets", repeated("[", n)),
      ("braces in a rulelist", "rulelist l for UDP {" + repeated("{", n)),
      ("braces in a rule", "rulelist l for UDP { rule r {" + repeated("{", n)),
      ("1 MB of '('", repeated("(", 1 << 20)),
      (
        "128 KB of '(' in a condition", "rulelist l for UDP { rule r when " + repeated("(", 1 << 17)
      ),
    ] {
      found += problems(Array(text.utf8), name, mustFail: true, timeLimit: nil)
    }
    report(found, "deep nesting")
  }

  /// The deepest trees the parser accepts must go through the checker, the printer and the
  /// renderers without exhausting the stack.
  @Test func deepestAcceptedTreesAreFine() {
    let d = Parser.maxDepth - 1
    let conditions: [(String, String)] = [
      ("parentheses", repeated("(", d) + "UDP.dst_port == 1" + repeated(")", d)),
      ("nots", repeated("not ", d) + "UDP.dst_port == 1"),
      (
        "nots and parentheses",
        repeated("not (", d / 2) + "UDP.dst_port == 1" + repeated(")", d / 2)
      ),
      ("masks", "payload[0]" + repeated(" & 255", d) + " == 1"),
      ("indexes", repeated("payload[", d / 2) + "0" + repeated("]", d / 2) + " == 1"),
      ("calls", repeated("u8(payload, ", d) + "0" + repeated(")", d) + " == 1"),
      ("lower", "len(" + repeated("lower(", d - 1) + "payload" + repeated(")", d) + " > 1"),
      (
        "masks in parentheses",
        repeated("(payload[0]" + repeated(" & 1", d / 2) + " == 1 and ", d / 2) + "true"
          + repeated(")", d / 2)
      ),
      (
        "everything",
        repeated("(not (payload[u8(payload, len(lower(payload)) & 7)] & 1 == 1 and ", d / 8)
          + "true" + repeated("))", d / 8)
      ),
    ]
    var found: [String] = []
    for (name, condition) in conditions {
      let text = "rulelist l for UDP {\n  rule r when \(condition) {\n    drop\n  }\n}\n"
      let checked = RuleChecker.check(SourceFile(name: "deep.rules", text: text))
      if checked.hasErrors {
        found.append("\(name): \(checked.diagnostics.filter { $0.severity == .error }.prefix(2))")
      }
      found += problems(Array(text.utf8), "deepest accepted \(name)", timeLimit: nil)
      for list in checked.file.rulelists {
        for rule in list.rules {
          if let c = rule.condition { _ = ExprPrinter.conjuncts(c).map(ExprPrinter.print) }
        }
      }
    }
    report(found, "deepest accepted trees")
  }

  @Test func longFlatStructuresAreFine() {
    var found: [String] = []
    let terms = (0..<100_000).map { "UDP.dst_port != \($0 % 65536)" }
    let andChain =
      "rulelist l for UDP {\n  rule r when \(terms.joined(separator: " and ")) {\n    drop\n  }\n}\n"
    found += problems(Array(andChain.utf8), "100000-term and chain", mustPass: true, timeLimit: nil)
    let orChain =
      "rulelist l for UDP {\n  rule r when \(terms.prefix(10_000).joined(separator: " or ")) { drop }\n}\n"
    found += problems(Array(orChain.utf8), "10000-term or chain", mustPass: true, timeLimit: nil)

    let set =
      "const ports = {\((0..<10_000).map(String.init).joined(separator: ", "))}\n"
      + "rulelist l for UDP {\n  rule r when UDP.dst_port in ports { drop }\n}\n"
    found += problems(Array(set.utf8), "10000-element set", mustPass: true, timeLimit: nil)
    let duplicates = "const s = {\(repeated("1, ", 10_000))1}\n"
    found += problems(Array(duplicates.utf8), "10000 duplicates in a set", timeLimit: nil)

    // Rulelists that apply one another in a long chain, and in a long cycle.
    let chain = (0..<10_000).map { "rulelist l\($0) for UDP { rule r { apply l\($0 + 1) } }\n" }
    let end = "rulelist l10000 for UDP { rule r { drop } }\n"
    found += problems(
      Array((chain.joined() + end).utf8), "10000 applies in a chain", mustPass: true, timeLimit: nil
    )
    let cycle = "rulelist l10000 for UDP { rule r { apply l0 } }\n"
    found += problems(
      Array((chain.joined() + cycle).utf8), "10000 applies in a cycle", mustFail: true,
      timeLimit: nil)

    // Constants defined through one another, first use first, and in a cycle.
    let consts = (0..<10_000).map { "const c\($0) = c\($0 + 1)\n" }.joined()
    let use = "rulelist l for UDP { rule r when UDP.dst_port == c0 { drop } }\n"
    found += problems(
      Array((consts + "const c10000 = 53\n" + use).utf8), "10000 constants in a chain",
      mustPass: true, timeLimit: nil)
    found += problems(
      Array((consts + "const c10000 = c0\n" + use).utf8), "10000 constants in a cycle",
      mustFail: true, timeLimit: nil)

    // Many lines, many errors.
    found += problems(
      Array(repeated("// comment\n", 50_000).utf8), "50000 comment lines", mustPass: true,
      timeLimit: nil)
    found += problems(
      Array(repeated("@", 50_000).utf8), "50000 bad characters", mustFail: true, timeLimit: nil)
    found += problems(
      Array(repeated("rule\n", 50_000).utf8), "50000 misplaced rules", mustFail: true,
      timeLimit: nil)
    let badRules =
      "rulelist l for UDP {\n" + repeated("  rule r when x == 1 { route }\n", 5_000) + "}\n"
    found += problems(Array(badRules.utf8), "5000 bad rules", mustFail: true, timeLimit: nil)
    report(found, "long flat structures")
  }

  @Test func fiftyThousandRules() {
    let clock = ContinuousClock()
    var found: [String] = []
    let rules = (0..<50_000).map {
      "  rule r\($0) when UDP.dst_port == \($0) { route to s\($0) }\n"
    }
    let text = "rulelist big for UDP {\n" + rules.joined() + "  rule rest { drop }\n}\n"
    var started = clock.now
    found += problems(Array(text.utf8), "50000 rules", mustPass: true, timeLimit: nil)
    print("robustness: a 50000-rule rulelist checked (and rendered) in \(clock.now - started)")

    // Rules that all test one condition, besides their own (once quadratic in the shadowing lint).
    let shared = (0..<10_000).map {
      "  rule r\($0) when IP.src_addr in 10.0.0.0/8 and UDP.dst_port == \($0 % 65536) { drop }\n"
    }
    started = clock.now
    let sharedText = "rulelist big for UDP {\n" + shared.joined() + "}\n"
    found += problems(
      Array(sharedText.utf8), "10000 rules sharing a condition", mustPass: true, timeLimit: nil)
    print("robustness: 10000 rules sharing a condition checked in \(clock.now - started)")
    report(found, "50000-rule rulelists")
  }

  @Test func megabyteTokens() {
    // Names, strings and patterns of 1 MB; other huge tokens and runs at 128 KB, which is as
    // good at catching quadratic time (what those cases are about) and quicker.
    let mb = 1 << 20
    let kb = 128 << 10
    let name = repeated("a", mb)
    let shortName = repeated("a", kb)
    let shortOther = repeated("a", kb - 1) + "b"
    let string = repeated("x", mb)
    var found: [String] = []
    let cases: [(String, String, Bool?)] = [
      ("1 MB identifier", name, false),
      (
        "1 MB const name",
        "const \(name) = 1\nrulelist l for UDP { rule r when UDP.dst_port == \(name) { drop } }",
        true
      ),
      (
        "1 MB rule name", "rulelist l for UDP { rule \(name) { drop } rule \(name) { drop } }",
        false
      ),
      (
        "1 MB string", "rulelist l for UDP { rule r when payload starts \"\(string)\" { drop } }",
        true
      ),
      (
        "1 MB unterminated string", "rulelist l for UDP { rule r when payload starts \"\(string)",
        false
      ),
      (
        "long pattern",
        "rulelist l for UDP { rule r when payload matches \"\(repeated("x", kb))\" { drop } }",
        false
      ),
      (
        "long unknown name",
        "const \(shortOther) = 1\nrulelist l for UDP { rule r when UDP.dst_port == \(shortName) { drop } }",
        false
      ),
      (
        "long rulelist names",
        "rulelist \(shortName) for UDP { rule r { drop } }\nrulelist l for UDP { rule r { apply \(shortOther) } }",
        false
      ),
      ("long bytes", "const b = x\"\(repeated("0", kb))\"", nil),
      ("long integer", repeated("9", kb), false),
      ("long duration", repeated("1s", kb / 2), false),
      ("long address-like run", repeated("a:", kb / 2), false),
      ("long digit-letter run", repeated("1f.", kb / 3), false),
      ("long dotted run", repeated("1.", kb / 2), false),
      ("long run of ':'", repeated(":", kb), false),
      ("long block comment", "/*" + repeated("*", kb), false),
      ("many '@'", repeated("@", kb), false),
      ("many '\"'", repeated("\"", kb), false),
      ("many escapes", "const s = \"" + repeated("\\q", kb / 2) + "\"", false),
      ("many names", repeated("x ", kb / 2), false),
      ("many commas in a set", "const s = {" + repeated(",", kb) + "}", false),
    ]
    for (label, text, valid) in cases {
      found += problems(
        Array(text.utf8), label, mustFail: valid == false, mustPass: valid == true, timeLimit: nil)
    }
    report(found, "megabyte tokens")
  }
}
