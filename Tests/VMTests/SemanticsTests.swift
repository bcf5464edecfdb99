import Testing

@testable import RuleLang
@testable import VM

/// Every operator, function and type through the compiler and the VM, on packets written as
/// literals, with the edge cases that matter. Each case also runs the reference evaluator, which
/// must agree: these tests pin down the semantics both implement.
@Suite struct SemanticsTests {
  // MARK: helpers

  struct Outcome {
    /// The matched rule's name, nil when no rule matched (dropped).
    var rule: String?
    var rulelist: String?
    var rewrites: [(path: String, value: OwnedPacket.Value)]
  }

  /// Compiles, verifies and runs `rulelist` (default: the first) on the packet; checks that the
  /// reference evaluator gives the same answer.
  static func run(
    _ source: String, _ literal: String, rulelist: String? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) throws -> Outcome {
    let checked = RuleChecker.check(SourceFile(name: "t.rules", text: source))
    let errors = checked.diagnostics.filter { $0.severity == .error }.map(\.message)
    try #require(errors.isEmpty, "\(errors)\n\(source)", sourceLocation: sourceLocation)
    let program = try RuleCompiler.compile(checked).get()
    let verified = try Verifier.verify(program)
    let packet = try PacketLiteral.parse(literal).packet
    let name = rulelist ?? program.rulelists[0].name
    let list = try #require(program.rulelist(named: name), sourceLocation: sourceLocation)
    let (verdict, rewrites) = VM.evaluate(verified, rulelist: list, packet: packet)
    let rule = verdict.matched ? program.rules[Int(verdict.rule)] : nil
    let outcome = Outcome(
      rule: rule?.name, rulelist: rule.map { program.rulelists[$0.rulelist].name },
      rewrites: rewrites)
    let reference = ReferenceEvaluator.evaluate(checked, rulelist: name, packet: packet)
    #expect(
      reference.rule?.name == outcome.rule && reference.rule?.rulelist == outcome.rulelist,
      "VM: \(outcome.rulelist ?? "-")/\(outcome.rule ?? "-"), reference: \(reference.rule.map { "\($0.rulelist)/\($0.name)" } ?? "-/-")\n\(source)\n\(literal)",
      sourceLocation: sourceLocation)
    #expect(
      reference.rewrites.map(\.path) == rewrites.map(\.path)
        && reference.rewrites.map(\.value) == rewrites.map(\.value),
      "VM rewrites \(rewrites), reference \(reference.rewrites)\n\(source)\n\(literal)",
      sourceLocation: sourceLocation)
    return outcome
  }

  /// Whether `condition` holds for the packet, on a rulelist of `proto`.
  static func holds(
    _ condition: String, _ literal: String, proto: String = "UDP", consts: String = "",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) throws -> Bool {
    let source = """
      \(consts)
      rulelist t for \(proto) {
        rule yes when \(condition) { drop }
      }
      """
    return try run(source, literal, sourceLocation: sourceLocation).rule == "yes"
  }

  /// Checks each (condition, expected) on one packet.
  static func table(
    _ literal: String, proto: String = "UDP", consts: String = "", _ cases: [(String, Bool)],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) throws {
    for (condition, expected) in cases {
      let got = try holds(
        condition, literal, proto: proto, consts: consts, sourceLocation: sourceLocation)
      #expect(
        got == expected, "\(condition) on \(literal): expected \(expected)",
        sourceLocation: sourceLocation)
    }
  }

  static let udp4 = #"udp 10.0.0.7:9001 -> 10.0.0.1:53 payload x"01 02 03 04""#

  // MARK: ints

  @Test func integerComparisons() throws {
    try Self.table(
      Self.udp4,
      [
        ("UDP.src_port == 9001", true), ("UDP.src_port != 9001", false),
        ("UDP.src_port < 9001", false), ("UDP.src_port <= 9001", true),
        ("UDP.src_port > 9000", true), ("UDP.src_port >= 9002", false),
        ("9001 == UDP.src_port", true), ("9000 < UDP.src_port", true),
        ("9001 > UDP.src_port", false), ("53 >= UDP.dst_port", true),
        ("UDP.src_port > UDP.dst_port", true), ("UDP.dst_port >= UDP.src_port", false),
        ("UDP.dst_port == UDP.dst_port", true), ("UDP.src_port != UDP.dst_port", true),
        ("payload[0] == 1", true), ("payload[3] == 4", true), ("payload[0] < payload[1]", true),
        ("payload[1] & 0x03 == 2", true), ("payload[1] & 0x01 == 0", true),
        ("payload[0] & payload[2] == 1", true), ("payload[0] & 0xc0 == 0x80", false),
        ("UDP.dst_port in {53, 5353}", true), ("UDP.dst_port in {5060, 5061}", false),
        ("UDP.dst_port not in {5060, 5061}", true), ("UDP.dst_port in 1..53", true),
        ("UDP.dst_port in 53..53", true), ("UDP.dst_port in 54..100", false),
        ("UDP.src_port in 0..65535", true), ("payload[2] in {1, 2, 3}", true),
        ("len(payload) == 4", true), ("len(payload) in 5..10", false),
      ])
  }

  @Test func sixtyFourBitValues() throws {
    let ff =
      #"udp 10.0.0.7:9001 -> 10.0.0.1:53 payload x"ff ff ff ff 80" labels {big: 9223372036854775807, neg: -1, wide: 4294967296}"#
    try Self.table(
      ff,
      [
        ("u32(payload, 0) == 4294967295", true), ("u32(payload, 0) == 0xffffffff", true),
        ("u32(payload, 1) == 0xffffff80", true), ("u32(payload, 0) > 2147483647", true),
        ("u32(payload, 0) != 4294967296", true), ("u32(payload, 0) < 4294967296", true),
        ("labels.big == 9223372036854775807", true), ("labels.big > 4294967296", true),
        ("labels.big >= 9223372036854775807", true), ("labels.big < 9223372036854775807", false),
        ("labels.wide == 4294967296", true), ("labels.wide == 0", false),
        ("labels.wide & 0x100000000 == 0x100000000", true), ("labels.wide & 0xffffffff == 0", true),
        ("labels.neg < 0", true), ("labels.neg == 4294967295", false),
        ("labels.big in 4294967296..9223372036854775807", true),
        ("labels.big in {1, 9223372036854775807}", true),
        ("len(payload) < 4294967296", true), ("payload[4294967296] == 0", false),
        ("not (payload[4294967296] == 0)", true),
      ])
  }

  @Test func loadsAtTheLastValidOffsetAndOnePast() throws {
    // Four bytes: u8 at 3, u16 at 2, u32 at 0 are the last that fit.
    try Self.table(
      Self.udp4,
      [
        ("u8(payload, 3) == 4", true), ("u8(payload, 4) == 0", false),
        ("not (u8(payload, 4) == 0)", true), ("u16(payload, 2) == 0x0304", true),
        ("u16(payload, 3) == 0x0400", false), ("u16(payload, 3) != 0x0400", false),
        ("u32(payload, 0) == 0x01020304", true), ("u32(payload, 1) == 0x02030400", false),
        ("payload[3] == 4", true), ("payload[4] == 0", false), ("payload[4] != 0", false),
        ("not (payload[4] == 0)", true), ("payload[100] == 1 or payload[0] == 1", true),
        ("defined(payload)", true),
        ("u16(payload, UDP.dst_port) == 0", false), ("u8(payload, payload[2]) == 4", true),
        ("payload[payload[0]] == 2", true), ("payload[payload[3]] == 0", false),
        ("payload[labels.nope] == 1", false),
      ])
  }

  @Test func slices() throws {
    try Self.table(
      Self.udp4,
      [
        ("payload[0:4] == x\"01 02 03 04\"", true), ("payload[1:2] == x\"02 03\"", true),
        ("payload[2:2] == x\"03 04\"", true), ("payload[3:2] == x\"04\"", false),
        ("not (payload[3:2] == x\"04\")", true), ("payload[4:0] == x\"\"", true),
        ("payload[5:0] == x\"\"", false), ("len(payload[1:2]) == 2", true),
        ("len(payload[0:5]) >= 0", false), ("u16(payload[2:2], 0) == 0x0304", true),
        ("u16(payload[2:2], 1) == 0x0400", false), ("payload[1:3][2] == 4", true),
        ("payload[1:3] starts x\"02\"", true), ("payload[1:3] ends x\"04\"", true),
        ("payload[1:2] contains x\"03\"", true),
        ("payload[payload[0]:payload[1]] == x\"02 03\"", true),
        ("payload[0:4294967296] == x\"01\"", false),
      ])
  }

  @Test func emptyPayload() throws {
    try Self.table(
      "udp 10.0.0.7:9001 -> 10.0.0.1:53",
      [
        ("len(payload) == 0", true), ("payload == \"\"", true), ("payload == x\"\"", true),
        ("payload starts \"\"", true), ("payload ends x\"\"", true),
        ("payload contains \"\"", true), ("payload matches \"^$\"", true),
        ("payload matches \"a\"", false), ("payload[0] == 0", false),
        ("not (payload[0] == 0)", true), ("payload[0:0] == x\"\"", true),
        ("payload[0:1] == x\"\"", false), ("u8(payload, 0) >= 0", false),
        ("payload in {\"\", \"a\"}", true), ("lower(payload) == \"\"", true),
        ("payload != \"a\"", true),
      ])
  }

  // MARK: bytes and strings

  @Test func startsEndsContainsOnBytesAndStrings() throws {
    let ws =
      #"ws 10.0.0.7:40000 -> 10.0.0.1:8080 GET /api/v1/users?id=7&x=1 headers {"User-Agent": "curl/8.0", "X-Id": "42"} payload "INVITE sip:x SIP/2.0""#
    try Self.table(
      ws, proto: "WebSocket",
      [
        ("payload starts \"INVITE \"", true), ("payload starts x\"49 4e\"", true),
        ("payload ends \"SIP/2.0\"", true), ("payload ends \"SIP/2\"", false),
        ("payload contains \"sip:\"", true), ("payload contains \"SIP:\"", false),
        ("payload starts \"INVITE sip:x SIP/2.0 \"", false),
        ("HTTP.url.path starts \"/api\"", true), ("HTTP.url.path ends \"users\"", true),
        ("HTTP.url.path contains \"/v1/\"", true), ("HTTP.url.path == \"/api/v1/users\"", true),
        ("HTTP.url.query == \"id=7&x=1\"", true), ("HTTP.url.query contains \"x=1\"", true),
        ("HTTP.method == \"GET\"", true), ("HTTP.method == \"get\"", false),
        ("HTTP.method in {\"GET\", \"HEAD\"}", true), ("HTTP.method != \"POST\"", true),
        ("\"/api/v1/users/7\" starts HTTP.url.path", true),
        ("HTTP.url.path starts HTTP.url.path", true),
        ("HTTP.url.path contains HTTP.method", false),
        ("payload[0:6] == \"INVITE\"", true), ("payload[0:6] in {\"INVITE\", \"BYE\"}", true),
        ("payload[0:3] in {x\"49 4e 56\"}", true),
        ("HTTP.url.host == \"a\"", false), ("defined(HTTP.url.host)", false),
      ])
  }

  @Test func regularExpressionsWithAnchors() throws {
    let ws = #"ws 10.0.0.7:40000 -> 10.0.0.1:8080 GET /api/v12/users payload "hello world""#
    try Self.table(
      ws, proto: "WebSocket",
      [
        ("payload matches \"^hello\"", true), ("payload matches \"^world\"", false),
        ("payload matches \"world$\"", true), ("payload matches \"hello$\"", false),
        ("payload matches \"lo wo\"", true), ("payload matches \"^hello world$\"", true),
        ("payload matches \"(?i)HELLO\"", true), ("payload matches \"HELLO\"", false),
        ("payload matches \"o+ w\"", true), ("payload matches \"^$\"", false),
        ("HTTP.url.path matches \"^/api/v[0-9]+/\"", true),
        ("HTTP.url.path matches \"^/api/v[0-9]$\"", false),
        ("HTTP.url.path matches \"\\\\d{2}\"", true),
        ("HTTP.method matches \"^(GET|HEAD)$\"", true),
        ("lower(HTTP.method) matches \"^get$\"", true),
        ("lower(HTTP.method) matches \"GET\"", false),
        ("HTTP.headers.x matches \"\"", false),
      ])
  }

  @Test func lowerFoldsASCII() throws {
    let ws =
      #"ws 10.0.0.7:40000 -> 10.0.0.1:8080 GET /Admin headers {"X-Mixed": "AbC"} payload "ABC def""#
    try Self.table(
      ws, proto: "WebSocket",
      [
        ("lower(HTTP.method) == \"get\"", true), ("lower(HTTP.method) == \"GET\"", false),
        ("lower(HTTP.method) != \"GET\"", true), ("lower(HTTP.method) != \"get\"", false),
        ("not (lower(HTTP.method) == \"GET\")", true),
        ("lower(HTTP.headers.x-mixed) == \"abc\"", true),
        ("lower(HTTP.headers.x-missing) != \"ABC\"", false),
        ("lower(HTTP.url.path) starts \"/adm\"", true),
        ("lower(HTTP.url.path) starts \"/Adm\"", false),
        ("lower(payload) == \"abc def\"", true), ("lower(payload) contains \"c d\"", true),
        ("lower(payload) ends \"DEF\"", false),
        ("lower(payload) in {\"abc def\", \"ABC DEF\"}", true),
        ("lower(payload) in {\"ABC DEF\"}", false), ("lower(payload)[0] == 0x61", true),
        ("payload[0] == 0x41", true), ("u16(lower(payload), 0) == 0x6162", true),
        ("lower(payload)[0:3] == \"abc\"", true), ("lower(payload[0:3]) == \"abc\"", true),
        ("lower(payload) matches \"^abc\"", true),
        // A folded side against an unfolded one: only the folded side is folded.
        ("HTTP.method == lower(HTTP.method)", false), ("lower(HTTP.method) == HTTP.method", false),
        ("lower(HTTP.method) == lower(HTTP.method)", true),
        ("\"GET /x\" starts lower(HTTP.method)", false),
        ("\"get /x\" starts lower(HTTP.method)", true),
        ("lower(HTTP.headers.x-mixed) == lower(\"aBc\")", true),
        ("len(lower(payload)) == 7", true),
      ])
    // ASCII only: lower() leaves other letters alone, in constants too.
    let umlaut = #"ws 10.0.0.7:40000 -> 10.0.0.1:8080 GET /x headers {"x": "ÄB"}"#
    try Self.table(
      umlaut, proto: "WebSocket",
      [
        ("lower(HTTP.headers.x) == \"Äb\"", true),
        ("lower(HTTP.headers.x) == lower(\"ÄB\")", true),
        ("lower(HTTP.headers.x) == \"äb\"", false),
      ])
  }

  @Test func headersAreCaseInsensitive() throws {
    let ws =
      #"ws 10.0.0.7:40000 -> 10.0.0.1:8080 GET / headers {"User-Agent": "curl", "X-ID": "1", "x-id": "2"}"#
    try Self.table(
      ws, proto: "WebSocket",
      [
        ("HTTP.headers.user-agent == \"curl\"", true),
        ("HTTP.headers.User-Agent == \"curl\"", true),
        ("HTTP.headers[\"USER-AGENT\"] == \"curl\"", true), ("HTTP.headers.x-id == \"1\"", true),
        ("HTTP.headers.X-Id == \"2\"", false), ("HTTP.headers.absent == \"a\"", false),
        ("HTTP.headers.absent != \"a\"", false), ("not (HTTP.headers.absent == \"a\")", true),
        ("defined(HTTP.headers.absent)", false), ("defined(HTTP.headers.USER-agent)", true),
        ("HTTP.headers.absent == HTTP.headers.absent", false),
        ("HTTP.headers.user-agent == HTTP.headers.USER-AGENT", true),
      ])
  }

  // MARK: addresses

  @Test func ipv4AndIPv6() throws {
    let v4 = "udp 10.0.0.1:5000 -> 192.168.1.1:53"
    let mapped = "udp [::ffff:10.0.0.1]:5000 -> [::1]:53"
    let v6 = "udp [2001:db8::1]:5000 -> [::1]:53"
    let cases: [(String, Bool, Bool, Bool)] = [
      // condition, on v4, on v4-mapped v6 (which is v4), on real v6
      ("IP.src_addr == 10.0.0.1", true, true, false),
      ("IP.src_addr == ::ffff:10.0.0.1", true, true, false),
      ("IP.src_addr == \"10.0.0.1\"", true, true, false),
      ("IP.src_addr != 10.0.0.1", false, false, true),
      ("IP.src_addr == 2001:db8::1", false, false, true),
      ("IP.src_addr in 10.0.0.0/8", true, true, false),
      ("IP.src_addr in \"10.0.0.0/8\"", true, true, false),
      ("IP.src_addr in 0.0.0.0/0", true, true, false),
      ("IP.src_addr in 10.0.0.1/32", true, true, false),
      ("IP.src_addr in 10.0.0.2/32", false, false, false),
      ("IP.src_addr in 2001:db8::/32", false, false, true),
      ("IP.src_addr in 2001:db8::1/128", false, false, true),
      ("IP.src_addr in 2001:db8::2/128", false, false, false),
      // IPv4 is IPv4-mapped inside one 128-bit space: a v6 /0 holds every address.
      ("IP.src_addr in ::/0", true, true, true),
      ("IP.src_addr in {10.0.0.0/8, 2001:db8::/32}", true, true, true),
      ("IP.src_addr in {192.168.0.0/16, ::1}", false, false, false),
      ("IP.src_addr in {10.0.0.1, 10.0.0.2}", true, true, false),
      ("IP.src_addr in {\"10.0.0.1\", \"10.1.0.0/16\"}", true, true, false),
      ("IP.src_addr in 10.0.0.0..10.0.0.9", true, true, false),
      ("IP.src_addr in 10.0.0.2..10.0.0.9", false, false, false),
      ("IP.src_addr in ::1..2001:db8::ffff", true, true, true),
      ("IP.src_addr == IP.src_addr", true, true, true),
      ("IP.src_addr == IP.dst_addr", false, false, false),
      ("IP.src_addr != IP.dst_addr", true, true, true),
      ("IP.src_addr starts \"10.0.0\"", true, true, false),
      ("IP.src_addr starts \"2001\"", false, false, false),
      ("IP.dst_addr in ::1/128", false, true, true),
      ("not (IP.src_addr in 10.0.0.0/8)", false, false, true),
    ]
    for (condition, a, b, c) in cases {
      #expect(try Self.holds(condition, v4) == a, "\(condition) on \(v4)")
      #expect(try Self.holds(condition, mapped) == b, "\(condition) on \(mapped)")
      #expect(try Self.holds(condition, v6) == c, "\(condition) on \(v6)")
    }
  }

  @Test func textPrefixesOfAddressesOffTheOctetBoundary() throws {
    let prefix = "IP.src_addr starts \"10.0.1\""
    for (address, expected) in [
      ("10.0.1.5", true), ("10.0.10.3", true), ("10.0.19.255", true), ("10.0.100.200", true),
      ("10.0.199.1", true), ("10.0.1.0", true), ("10.0.2.1", false), ("10.0.200.1", false),
      ("10.0.0.1", false), ("10.1.0.1", false), ("110.0.1.1", false),
    ] {
      let literal = "udp \(address):1 -> 10.0.0.1:2"
      #expect(try Self.holds(prefix, literal) == expected, "\(prefix) on \(address)")
    }
    try Self.table(
      "udp 192.168.10.20:1 -> 10.0.0.1:2",
      [
        ("IP.src_addr starts \"1\"", true), ("IP.src_addr starts \"19\"", true),
        ("IP.src_addr starts \"192.168.1\"", true), ("IP.src_addr starts \"192.168.10.2\"", true),
        ("IP.src_addr starts \"192.168.10.20\"", true),
        ("IP.src_addr starts \"192.168.10.200\"", false),
        ("IP.src_addr starts \"192.168.2\"", false),
        ("IP.src_addr starts \"\"", true), ("IP.dst_addr starts \"10.\"", true),
      ])
  }

  // MARK: logic

  @Test func logicShortCircuitsOverMissingValues() throws {
    try Self.table(
      Self.udp4,
      [
        ("payload[9] == 1 and payload[0] == 1", false),
        ("payload[9] == 1 or payload[0] == 1", true),
        ("not payload[9] == 1", true), ("not (payload[9] == 1 or payload[9] != 1)", true),
        ("payload[9] == 1 or payload[9] != 1", false),
        ("!(payload[0] == 1) || payload[1] == 2", true),
        ("payload[0] == 1 && !(payload[1] == 2)", false),
        ("(payload[0] == 1 or payload[0] == 9) and (payload[1] == 9 or payload[2] == 3)", true),
        ("not not (payload[0] == 1)", true), ("not (not (payload[8] == 1))", false),
        ("(payload[0] == 1) == (payload[1] == 2)", true), ("(payload[0] == 1) != true", false),
        ("(payload[9] == 1) == false", true), ("defined(labels.x) == false", true),
        ("true", true), ("false or payload[0] == 1", true), ("payload[0] == 1 and true", true),
        ("labels.x", false), ("not labels.x", true),
      ])
  }

  @Test func firstMatchingRuleWinsAndNoMatchDrops() throws {
    let source = """
      rulelist l for UDP {
        rule a when UDP.dst_port == 1 { route to one }
        rule b when UDP.dst_port in 1..10 { route to ten }
        rule c when UDP.dst_port == 5 { drop }
      }
      """
    #expect(try Self.run(source, "udp 1.1.1.1:1 -> 2.2.2.2:1").rule == "a")
    #expect(try Self.run(source, "udp 1.1.1.1:1 -> 2.2.2.2:5").rule == "b")
    let none = try Self.run(source, "udp 1.1.1.1:1 -> 2.2.2.2:11")
    #expect(none.rule == nil && none.rewrites.isEmpty)
  }

  // MARK: actions

  @Test func applyChainsSeeEarlierRewrites() throws {
    let source = """
      rulelist entry for UDP {
        rule tag when payload starts "A" {
          set labels.kind = "alpha"
          set labels.n = 1
          apply middle
        }
        rule other { set labels.kind = "other" apply middle }
      }
      rulelist middle for UDP {
        rule alpha when labels.kind == "alpha" {
          set labels.n = 2
          apply last
        }
        rule rest when labels.kind == "other" and not defined(labels.n) { apply last }
      }
      rulelist last for UDP {
        rule two when labels.n == 2 and labels.kind == "alpha" { route to alpha-backend }
        rule unset when not defined(labels.n) { route to other-backend }
      }
      """
    let a = try Self.run(source, #"udp 1.1.1.1:1 -> 2.2.2.2:3 payload "Abc""#)
    #expect(a.rule == "two" && a.rulelist == "last")
    #expect(a.rewrites.map(\.path) == ["labels.kind", "labels.n", "labels.n"])
    #expect(a.rewrites.map(\.value) == [.bytes(Array("alpha".utf8)), .int(1), .int(2)])
    let b = try Self.run(source, #"udp 1.1.1.1:1 -> 2.2.2.2:3 payload "xyz""#)
    #expect(b.rule == "unset" && b.rulelist == "last")
    // A packet's own label is overridden by the rewrite, for later reads.
    let c = try Self.run(source, #"udp 1.1.1.1:1 -> 2.2.2.2:3 payload "x" labels {n: 5}"#)
    #expect(c.rule == nil)
    #expect(c.rewrites.map(\.path) == ["labels.kind"])
  }

  @Test func applyIntoARulelistThatDoesNotMatchDrops() throws {
    let source = """
      rulelist a for UDP {
        rule go { set labels.x = 1 apply b }
        rule never { route to nowhere }
      }
      rulelist b for UDP {
        rule only when labels.x == 2 { route to b-backend }
      }
      """
    let r = try Self.run(source, "udp 1.1.1.1:1 -> 2.2.2.2:3")
    #expect(r.rule == nil)
    #expect(r.rewrites.map(\.path) == ["labels.x"])
  }

  @Test func setOfEachValueKind() throws {
    let source = """
      rulelist l for WebSocket {
        rule all {
          set labels.int = 42
          set labels.big = 9223372036854775807
          set labels.str = "text"
          set labels.raw = x"00 ff"
          set labels.addr = 2001:db8::1
          set labels.v4 = 10.0.0.1
          set labels.yes = true
          set labels.no = false
          set labels.time = 1m30s
          set labels.port = TCP.src_port
          set labels.word = u32(payload, 0)
          set labels.slice = payload[1:2]
          set labels.low = lower(HTTP.method)
          set labels.src = IP.src_addr
          set labels.copy = labels.given
          set labels.test = payload[0] == 0x41
          set labels.gone = HTTP.headers.absent
          set labels.past = payload[99]
          set HTTP.headers.X-Id = 7
          set HTTP.headers["x-name"] = "n"
          set HTTP.url.path = "/rewritten"
          drop
        }
      }
      """
    let r = try Self.run(
      source,
      #"ws 10.0.0.9:4000 -> 10.0.0.1:80 GET / payload "ABCD" labels {given: x"0a 0b"}"#)
    let expected: [(String, OwnedPacket.Value)] = [
      ("labels.int", .int(42)), ("labels.big", .int(Int64.max)),
      ("labels.str", .bytes(Array("text".utf8))), ("labels.raw", .bytes([0, 0xFF])),
      ("labels.addr", .ip(try IPAddress.parse("2001:db8::1").get())),
      ("labels.v4", .ip(IPAddress(v4: 0x0A00_0001))), ("labels.yes", .int(1)),
      ("labels.no", .int(0)), ("labels.time", .int(90_000_000_000)), ("labels.port", .int(4000)),
      ("labels.word", .int(0x4142_4344)), ("labels.slice", .bytes(Array("BC".utf8))),
      ("labels.low", .bytes(Array("get".utf8))), ("labels.src", .ip(IPAddress(v4: 0x0A00_0009))),
      ("labels.copy", .bytes([0x0A, 0x0B])), ("labels.test", .int(1)),
      ("HTTP.headers.x-id", .int(7)), ("HTTP.headers.x-name", .bytes(Array("n".utf8))),
      ("HTTP.url.path", .bytes(Array("/rewritten".utf8))),
    ]
    #expect(r.rule == "all")
    #expect(r.rewrites.map(\.path) == expected.map(\.0))
    #expect(r.rewrites.map(\.value) == expected.map(\.1))
  }

  @Test func rewritesAreVisibleToLaterReads() throws {
    let source = """
      rulelist first for WebSocket {
        rule a {
          set HTTP.headers.ID = 1
          set HTTP.method = "POST"
          set HTTP.url.path = "/v2"
          set HTTP.headers.from = IP.src_addr
          set labels.low = lower(HTTP.headers.mixed)
          set labels.port = TCP.dst_port
          set labels.addr = IP.src_addr
          apply second
        }
      }
      rulelist second for WebSocket {
        rule header-as-text when HTTP.headers.id == "1" and HTTP.headers.from == "10.0.0.9"
          and HTTP.method == "POST" and HTTP.url.path starts "/v2" and defined(HTTP.headers.Id)
          and labels.low == "abc" and lower(labels.low) == "abc" and labels.port == 80
          and labels.addr in 10.0.0.0/24 {
          route to ok
        }
        rule fallback { drop }
      }
      """
    let r = try Self.run(
      source, #"ws 10.0.0.9:4000 -> 10.0.0.1:80 GET /v1 headers {"Mixed": "AbC"}"#)
    #expect(r.rule == "header-as-text")
  }

  @Test func stringFieldsReadIntsAndAddressesAsText() throws {
    let source = """
      rulelist a for WebSocket {
        rule r {
          set HTTP.headers.src = IP.src_addr
          set HTTP.headers.dst = IP.dst_addr
          set HTTP.headers.port = TCP.src_port
          set HTTP.url.query = u32(payload, 0)
          set HTTP.headers.max = 9223372036854775807
          set HTTP.headers.on = true
          apply b
        }
      }
      rulelist b for WebSocket {
        rule text when HTTP.headers.src == "2001:db8::ff00:42:8329" and HTTP.headers.dst == "10.0.0.1"
          and HTTP.headers.port == "40000" and HTTP.url.query == "4294967295"
          and HTTP.headers.max == "9223372036854775807" and HTTP.headers.on == "1"
          and len(HTTP.headers.src) == 22 and HTTP.headers.src starts "2001:db8::" {
          route to ok
        }
      }
      """
    let r = try Self.run(
      source, #"ws [2001:db8:0:0:0:ff00:42:8329]:40000 -> 10.0.0.1:80 payload x"ff ff ff ff""#)
    #expect(r.rule == "text")
    // The rewrites keep their values; only reads see text.
    #expect(r.rewrites.first?.value == .ip(try IPAddress.parse("2001:db8::ff00:42:8329").get()))
  }

  @Test func addressAndIntegerTextWithoutAllocation() throws {
    var addresses = [
      "::", "::1", "1::", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1", "fe80::",
      "1:0:0:2:0:0:0:3", "1:0:0:0:2:0:0:3", "0:1:0:1:0:1:0:1",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "0.0.0.0", "255.255.255.255", "10.0.100.7", "::ffff:1.2.3.4", "::fffe:1.2.3.4", "64:ff9b::1",
    ]
    var rng = SplitMix64(state: 7)
    for _ in 0..<500 {
      let high = rng.next() & (rng.next() | rng.next())
      let low = rng.next() & (rng.next() | rng.next())
      addresses.append(IPAddress(high: high, low: low).description)
    }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 48, alignment: 8)
    defer { buffer.deallocate() }
    for text in addresses {
      let a = try IPAddress.parse(text).get()
      let n = TextFormat.ip(a, buffer)
      #expect(
        String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self)
          == a.description)
    }
    for x: Int64 in [0, 1, -1, 9, 10, 99, 100, 4_294_967_295, .max, .min, -10] {
      let n = TextFormat.int(x, buffer)
      #expect(
        String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self)
          == String(x))
    }
  }

  @Test func definedOnEachKind() throws {
    let literal =
      #"ws 10.0.0.9:4000 -> 10.0.0.1:80 GET / host "example.com" headers {"a": ""} labels {i: 0, s: "", p: ::1}"#
    try Self.table(
      literal, proto: "WebSocket",
      [
        ("defined(HTTP.headers.a)", true), ("defined(HTTP.headers.b)", false),
        ("defined(HTTP.url.host)", true), ("HTTP.url.host == \"example.com\"", true),
        ("defined(labels.i)", true), ("defined(labels.s)", true), ("defined(labels.p)", true),
        ("defined(labels.q)", false), ("not defined(labels.q)", true), ("defined(payload)", true),
        ("defined(HTTP.method)", true),
      ])
    try Self.table(
      "ws 10.0.0.9:4000 -> 10.0.0.1:80", proto: "WebSocket",
      [("defined(HTTP.url.host)", false), ("HTTP.url.host != \"x\"", false)])
  }

  @Test func dynamicLabelsOfEachKind() throws {
    let literal =
      #"udp 10.0.0.9:4000 -> 10.0.0.1:53 payload x"00 01 02" labels {n: 2, zero: 0, s: "Hello", b: x"01 02", p: 10.0.0.5, q: 2001:db8::7}"#
    try Self.table(
      literal,
      [
        ("labels.n == 2", true), ("labels.n != 3", true), ("labels.n < 3", true),
        ("labels.n in {1, 2}", true), ("labels.n in 0..1", false), ("labels.n & 2 == 2", true),
        ("labels.n == UDP.dst_port", false), ("payload[labels.n] == 2", true),
        ("u8(payload, labels.n) == 2", true), ("labels.n == \"2\"", false),
        ("labels.n", true), ("labels.zero", false), ("not labels.zero", true), ("labels.s", false),
        ("labels.n == true", false), ("labels.zero == false", true),
        ("labels.s == \"Hello\"", true), ("labels.s starts \"He\"", true),
        ("labels.s ends \"llo\"", true), ("labels.s contains \"ell\"", true),
        ("labels.s matches \"^H.*o$\"", true), ("lower(labels.s) == \"hello\"", true),
        ("len(labels.s) == 5", true), ("labels.s in {\"Hello\", \"x\"}", true),
        ("labels.s == 5", false), ("labels.s[0] == 0x48", true), ("labels.b == x\"01 02\"", true),
        ("labels.b == payload[1:2]", true), ("payload[1:2] == labels.b", true),
        ("u16(labels.b, 0) == 0x0102", true),
        ("labels.p == 10.0.0.5", true), ("labels.p in 10.0.0.0/24", true),
        ("labels.p in {10.0.0.5, ::1}", true), ("labels.p == IP.src_addr", false),
        ("labels.p != 10.0.0.6", true), ("labels.p == \"10.0.0.5\"", false),
        ("labels.q in 2001:db8::/32", true), ("labels.q in 10.0.0.0/8", false),
        ("labels.missing == 1", false), ("labels.missing != 1", false),
        ("not (labels.missing == 1)", true), ("labels.n < 2s", true),
        ("labels.zero in 0s..1s", true),
      ])
  }

  @Test func protocolsWithoutPayload() throws {
    try Self.table(
      "tcp 10.0.0.1:40000 -> 10.0.0.2:80 labels {k: 1}", proto: "TCP",
      [
        ("TCP.dst_port == 80", true), ("TCP.src_port in 1024..65535", true),
        ("IP.dst_addr == 10.0.0.2", true), ("labels.k == 1", true),
      ])
    try Self.table(
      "uds /var/run/sock/uds-echo.sock", proto: "UnixDomainSocket",
      [
        ("UNIX.filename == \"/var/run/sock/uds-echo.sock\"", true),
        ("UNIX.filename ends \".sock\"", true), ("UNIX.filename starts \"/tmp\"", false),
        ("lower(UNIX.filename) contains \"uds-echo\"", true), ("labels.k == 1", false),
      ])
  }
}
