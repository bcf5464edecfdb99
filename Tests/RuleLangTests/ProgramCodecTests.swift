// The binary program format (`ProgramCodec`): every constant kind and action survives a round
// trip, and every way a file can be wrong is an error naming its offset, never a trap.

import Testing

@testable import RuleLang

/// A binary program as its sections, to break one part of it and put it back together with
/// correct checksums.
struct SectionedFile {
  var version: UInt16 = ProgramCodec.version
  var sections: [(tag: String, payload: [UInt8])]
  /// The section count written in the header (nil: the real count).
  var declaredCount: UInt32? = nil

  init(_ bytes: [UInt8]) {
    func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    sections = []
    var at = 12
    for _ in 0..<u32(8) {
      let length = u32(at + 4)
      sections.append(
        (
          String(decoding: bytes[at..<(at + 4)], as: UTF8.self),
          Array(bytes[(at + 12)..<(at + 12 + length)])
        ))
      at += 12 + length
    }
  }

  var bytes: [UInt8] {
    var out = ProgramCodec.magic
    ProgramCodec.put16(&out, version)
    ProgramCodec.put32(&out, declaredCount ?? UInt32(sections.count))
    for (tag, payload) in sections {
      out += Array(tag.utf8)
      ProgramCodec.put32(&out, UInt32(payload.count))
      ProgramCodec.put32(&out, ProgramCodec.crc32(payload))
      out += payload
    }
    return out
  }

  /// Where a section's payload starts in `bytes`.
  func payloadOffset(_ tag: String) -> Int {
    var at = 12
    for s in sections {
      if s.tag == tag { return at + 12 }
      at += 12 + s.payload.count
    }
    return -1
  }

  subscript(tag: String) -> [UInt8] {
    get { sections.first { $0.tag == tag }!.payload }
    set { sections[sections.firstIndex { $0.tag == tag }!].payload = newValue }
  }
}

/// A program with every constant kind, every action, every route option and every opcode.
let everythingProgram: Program = {
  let v4 = IPAddress(v4: 0x0A00_0001)
  let v6 = try! IPAddress.parse("2001:db8::1").get()
  let constants: [Constant] = [
    .int(0), .int(Int64.min), .int(Int64.max), .int(-1),
    .bytes([]), .bytes([0, 0xFF, 0x80]), .bytes(Array("INVITE ".utf8)),
    .ip(v4), .ip(v6), .ip(IPAddress(high: ~0, low: ~0)),
    .intSet([]), .intSet([Int64.min...(-1), 5...5, 100...Int64.max]),
    .ipSet([]),
    .ipSet([IPInterval(CIDR(address: v4, prefixLength: 8)), IPInterval(lo: v6, hi: v6)]),
    .bytesSet([]), .bytesSet([[], [0], Array("GET".utf8)]),
    .automaton(try! RegexAutomaton.compile("(?i)^s.p$")),
    .path("labels.ssrc"), .path("HTTP.headers.x-ünïcode"), .path(""),
    .ruleIndex(
      RuleIndex(
        rulePCs: [1, 2, 3], end: 4, always: [2],
        intTables: [IntKeyTable(field: .dstPort, lo: [1, 9], hi: [5, 9], lists: [[0], [0, 1]])],
        ipTables: [
          IPKeyTable(field: .srcAddr, lo: [v4], hi: [IPAddress(v4: 0x0AFF_FFFF)], lists: [[1]])
        ],
        prefixTables: [
          PrefixKeyTable(
            field: .payload, edgeBytes: [[0x47], []], edgeTargets: [[1], []], lists: [[], [0]])
        ])),
  ]
  let code = Opcode.allCases.enumerated().map { i, op in
    Instruction(op, a: UInt8(i), b: UInt16(0xFFFF - i), c: UInt32(0xFFFF_FFF0 + UInt32(i % 16)))
  }
  return Program(
    code: code, constants: constants,
    rulelists: [
      RulelistInfo(name: "first", protocolName: "UDP", entry: 0),
      RulelistInfo(name: "ws", protocolName: "WebSocket", entry: 5),
    ],
    rules: [
      RuleInfo(name: "drop-it", rulelist: 0, line: 1, action: .drop),
      RuleInfo(name: "route-it", rulelist: 0, line: 2, action: .route(1)),
      RuleInfo(name: "apply-it", rulelist: 0, line: 3, action: .apply(1)),
      RuleInfo(name: "big", rulelist: 1, line: Int(UInt32.max), action: .route(0)),
    ],
    routes: [
      RouteInfo(destination: "plain", via: [], returnVia: []),
      RouteInfo(
        destination: "full", via: ["a", "b"], returnVia: ["c"], retryOn: .connectFailure,
        retries: 1000, timeout: 250_000_000, removeOrphanSessions: true,
        idleTimeout: Int64.max),
    ]
      + RetryPolicy.allCases.map {
        RouteInfo(destination: "r", via: [], returnVia: [], retryOn: $0)
      },
    sourceName: "everything — ✓.rules")
}()

/// A small real program, for cutting at every length.
let smallProgram = try! RuleCompiler.compile(
  SourceFile(
    name: "small.rules",
    text: """
      rulelist l for UDP {
        rule dns when UDP.dst_port in {53, 5353} and payload starts "x" { route to dns via cache }
        rule rest { drop }
      }
      """)
).get()

@Suite struct ProgramCodecTests {
  func decodeError(_ bytes: [UInt8]) -> ProgramFormatError? {
    do {
      _ = try ProgramCodec.decode(bytes)
      return nil
    } catch {
      return error
    }
  }

  func expectError(
    _ bytes: [UInt8], at offset: Int, _ message: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    guard let e = decodeError(bytes) else {
      Issue.record("decoded without an error", sourceLocation: sourceLocation)
      return
    }
    #expect(e.offset == offset, "\(e)", sourceLocation: sourceLocation)
    #expect(e.message.contains(message), "\(e)", sourceLocation: sourceLocation)
    #expect(e.description == "at byte \(e.offset): \(e.message)", sourceLocation: sourceLocation)
  }

  // MARK: round trips

  @Test func everyConstantKindAndActionRoundTrips() throws {
    let kinds = Set(everythingProgram.constants.map(\.kindName))
    #expect(kinds.count == 9)
    let bytes = ProgramCodec.encode(everythingProgram)
    let decoded = try ProgramCodec.decode(bytes)
    #expect(decoded == everythingProgram)
    for (a, b) in zip(decoded.constants, everythingProgram.constants) { #expect(a == b) }
    #expect(decoded.rules.map(\.action) == [.drop, .route(1), .apply(1), .route(0)])
    #expect(decoded.routes == everythingProgram.routes)
    // The encoding is a function of the program: the same bytes again.
    #expect(ProgramCodec.encode(decoded) == bytes)
  }

  @Test func eachConstantAloneRoundTrips() throws {
    for k in everythingProgram.constants {
      var p = smallProgram
      p.constants = [k]
      #expect(try ProgramCodec.decode(ProgramCodec.encode(p)).constants == [k])
    }
  }

  @Test func headerAndSections() {
    let bytes = ProgramCodec.encode(smallProgram)
    #expect(Array(bytes[0..<6]) == Array("L7MPBC".utf8))
    #expect(bytes[6] == 2 && bytes[7] == 0)
    let file = SectionedFile(bytes)
    #expect(file.sections.map(\.tag) == ["NAME", "CODE", "KPOL", "LIST", "RULE", "ROUT"])
    #expect(file.bytes == bytes)
    #expect(ProgramCodec.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
  }

  /// Opcode and field numbers are part of the format: renumbering one changes what every `.l7b`
  /// file means. When this fails on purpose, bump `ProgramCodec.version` and update the lists.
  @Test func numbersArePinned() {
    let opcodes =
      "nop jump match noMatch apply dispatch next ldf ldi ldk lds ldsk ldhdr ldip ldipk ldlab "
      + "ldb ldh ldw ldbx ldhx ldwx slice slicex len movs fold andi andk andr jeqi jnei jeqk "
      + "jnek jltk jlek jgtk jgek jink jeq jne jlt jle jfeqi jfink jfcidr jfstarts jbeq jbne "
      + "jbstarts jbends jbcontains jbmatches jbin jbeqr jbner jbstartsr jbendsr jbcontainsr "
      + "jipeq jipne jipin jipeqr jipner jpresent setk setr sets setip"
    #expect(Opcode.allCases.map { "\($0)" }.joined(separator: " ") == opcodes)
    #expect(Opcode.allCases.enumerated().allSatisfy { $0.offset == Int($0.element.rawValue) })
    #expect(
      Field.allCases.map(\.description)
        == [
          "IP.src_addr", "IP.dst_addr", "src_port", "dst_port", "payload", "HTTP.method",
          "HTTP.url.path", "HTTP.url.query", "HTTP.url.host", "UNIX.filename",
        ])
    #expect(Field.allCases.enumerated().allSatisfy { $0.offset == Int($0.element.rawValue) })
  }

  // MARK: errors

  @Test func badMagic() {
    var b = ProgramCodec.encode(smallProgram)
    b[5] = UInt8(ascii: "X")
    expectError(b, at: 0, "not an l7mp program (no \"L7MPBC\" magic)")
    expectError([], at: 0, "not an l7mp program")
    expectError(Array("L7MPBC".utf8), at: 0, "not an l7mp program")
  }

  @Test func otherVersion() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f.version = ProgramCodec.version + 1
    expectError(
      f.bytes, at: 6,
      "program format version \(ProgramCodec.version + 1); this l7mp reads version \(ProgramCodec.version)"
    )
    // Version 1 numbered the opcodes before `dispatch` and `next` existed: refused, not misread.
    f.version = 1
    expectError(f.bytes, at: 6, "program format version 1; this l7mp reads version 2")
    f.version = 0
    expectError(f.bytes, at: 6, "program format version 0")
  }

  /// Every proper prefix of a program is an error, with an offset inside it; none traps.
  @Test func truncatedAtEveryLength() {
    for program in [smallProgram, everythingProgram] {
      let bytes = ProgramCodec.encode(program)
      for n in 0..<bytes.count {
        guard let e = decodeError(Array(bytes[0..<n])) else {
          Issue.record("\(n) of \(bytes.count) bytes decoded")
          continue
        }
        #expect((0...n).contains(e.offset), "\(n): \(e)")
      }
    }
  }

  @Test func checksumMismatch() {
    let good = SectionedFile(ProgramCodec.encode(smallProgram))
    for tag in ["NAME", "CODE", "KPOL", "LIST", "RULE", "ROUT"] {
      var b = good.bytes
      let at = good.payloadOffset(tag)
      b[at] ^= 0x01
      expectError(b, at: at, "section \(tag) fails its checksum")
    }
    // The checksum field itself.
    var b = good.bytes
    b[good.payloadOffset("CODE") - 1] ^= 0x80
    expectError(b, at: good.payloadOffset("CODE"), "section CODE fails its checksum")
  }

  @Test func duplicateSection() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f.sections.append(f.sections[1])
    let second = f.bytes.count - f.sections[1].payload.count - 12
    expectError(f.bytes, at: second, "section CODE appears twice")
  }

  @Test func missingSection() {
    for tag in ["NAME", "CODE", "KPOL", "LIST", "RULE", "ROUT"] {
      var f = SectionedFile(ProgramCodec.encode(smallProgram))
      f.sections.removeAll { $0.tag == tag }
      let b = f.bytes
      expectError(b, at: b.count, "section \(tag) is missing")
    }
  }

  @Test func unknownSectionsAreSkipped() throws {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f.sections.insert(("XTRA", [1, 2, 3]), at: 2)
    #expect(try ProgramCodec.decode(f.bytes) == smallProgram)
  }

  @Test func tooManySections() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f.declaredCount = 65
    expectError(f.bytes, at: 12, "65 sections is too many")
  }

  @Test func sectionCountLargerThanTheFile() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f.declaredCount = 7
    let b = f.bytes
    expectError(b, at: b.count, "truncated: needs 4 bytes, 0 left")
  }

  @Test func strayBytes() {
    let b = ProgramCodec.encode(smallProgram)
    expectError(b + [0, 0, 7], at: b.count, "3 stray bytes after the last section")
  }

  @Test func strayBytesInsideASection() {
    for tag in ["NAME", "CODE", "KPOL", "LIST", "RULE", "ROUT"] {
      var f = SectionedFile(ProgramCodec.encode(smallProgram))
      f[tag] += [9, 9]
      let end = f.payloadOffset(tag) + f[tag].count - 2
      expectError(f.bytes, at: end, "2 unexpected bytes at the end of the section")
    }
  }

  @Test func unknownOpcode() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    let last = Opcode.allCases.map(\.rawValue).max()!
    for (i, raw) in [(0, last + 1), (1, UInt8(0xFF))] {
      var code = f["CODE"]
      code[4 + 8 * i] = raw
      f["CODE"] = code
      expectError(
        f.bytes, at: f.payloadOffset("CODE") + 4 + 8 * i,
        "instruction \(i): unknown opcode \(raw)")
      f = SectionedFile(ProgramCodec.encode(smallProgram))
    }
  }

  @Test func unknownConstantKind() {
    var p = smallProgram
    p.constants = [.int(1)]
    var f = SectionedFile(ProgramCodec.encode(p))
    f["KPOL"] = [1, 0, 0, 0, 99] + [UInt8](repeating: 0, count: 8)
    expectError(f.bytes, at: f.payloadOffset("KPOL") + 4, "unknown constant kind 99")
  }

  @Test func countLargerThanTheRemainingBytes() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    var code = f["CODE"]
    code.replaceSubrange(0..<4, with: [0xFF, 0xFF, 0xFF, 0xFF])
    f["CODE"] = code
    expectError(
      f.bytes, at: f.payloadOffset("CODE") + 4,
      "count 4294967295 is larger than the \(code.count - 4) remaining bytes can hold")
    // One instruction too many by one byte.
    f = SectionedFile(ProgramCodec.encode(smallProgram))
    code = f["CODE"]
    let n = (code.count - 4) / 8
    code[0] = UInt8(n + 1)
    f["CODE"] = code
    expectError(f.bytes, at: f.payloadOffset("CODE") + 4, "count \(n + 1) is larger than")
    // Counts inside constants: an int set of a billion intervals in a few bytes.
    var p = smallProgram
    p.constants = [.intSet([1...2])]
    f = SectionedFile(ProgramCodec.encode(p))
    var pool = f["KPOL"]
    pool.replaceSubrange(5..<9, with: [0, 0xCA, 0x9A, 0x3B])
    f["KPOL"] = pool
    expectError(f.bytes, at: f.payloadOffset("KPOL") + 9, "count 1000000000 is larger than")
    // A string longer than its section.
    f = SectionedFile(ProgramCodec.encode(smallProgram))
    f["NAME"] = [0xFF, 0xFF, 0, 0, 0x61]
    expectError(f.bytes, at: f.payloadOffset("NAME") + 4, "truncated: needs 65535 bytes, 1 left")
  }

  @Test func invalidUTF8() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    f["NAME"] = [2, 0, 0, 0, 0xC3, 0x28]
    expectError(f.bytes, at: f.payloadOffset("NAME") + 6, "string is not valid UTF-8")
    var p = smallProgram
    p.constants = [.path("x")]
    f = SectionedFile(ProgramCodec.encode(p))
    var pool = f["KPOL"]
    pool[pool.count - 1] = 0xFF
    f["KPOL"] = pool
    expectError(f.bytes, at: f.payloadOffset("KPOL") + pool.count, "string is not valid UTF-8")
  }

  @Test func unknownActionAndRetryPolicy() {
    var f = SectionedFile(ProgramCodec.encode(smallProgram))
    var rules = f["RULE"]
    // count, then "dns": length 3, bytes, rulelist, line, then the action kind.
    let kindAt = 4 + 4 + 3 + 4 + 4
    rules[kindAt] = 9
    f["RULE"] = rules
    expectError(f.bytes, at: f.payloadOffset("RULE") + kindAt, "rule 'dns': unknown action kind 9")

    var p = smallProgram
    p.routes = [RouteInfo(destination: "d", via: [], returnVia: [], retryOn: .always)]
    f = SectionedFile(ProgramCodec.encode(p))
    var routes = f["ROUT"]
    // count, "d", via count, return count, then the policy "always".
    let policyAt = 4 + 5 + 4 + 4
    routes.replaceSubrange((policyAt + 4)..<(policyAt + 10), with: Array("sundae".utf8))
    f["ROUT"] = routes
    expectError(
      f.bytes, at: f.payloadOffset("ROUT") + policyAt, "route to 'd': unknown retry policy 'sundae'"
    )
  }

  @Test func malformedConstants() {
    func pool(_ k: Constant, _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
      var p = smallProgram
      p.constants = [k]
      var f = SectionedFile(ProgramCodec.encode(p))
      var bytes = f["KPOL"]
      edit(&bytes)
      f["KPOL"] = bytes
      return f.bytes
    }
    let base = SectionedFile(ProgramCodec.encode(smallProgram)).payloadOffset("KPOL")
    // An int interval with its bounds the wrong way round.
    expectError(
      pool(.intSet([4...5])) {
        $0[9] = 5
        $0[17] = 4
      }, at: base + 25, "int interval 5..4 is empty")
    // An automaton whose start state does not exist.
    let auto = try! RegexAutomaton.compile("a")
    expectError(
      pool(.automaton(auto)) { $0[9] = 0x7F }, at: base + 4,
      "automaton: invalid regex automaton: start state 127 is out of range")
    // A rule index table on a field that does not exist.
    let index = RuleIndex(
      rulePCs: [], end: 0, always: [],
      intTables: [IntKeyTable(field: .srcPort, lo: [], hi: [], lists: [])], ipTables: [],
      prefixTables: [])
    expectError(pool(.ruleIndex(index)) { $0[21] = 200 }, at: base + 22, "unknown field 200")
  }

  /// Every one-byte change of a small program, checksums repaired: an error or a program, never a
  /// trap.
  @Test func everyByteChangedDecodesOrFails() {
    let bytes = ProgramCodec.encode(smallProgram)
    var refused = 0
    for at in 12..<bytes.count {
      for value: UInt8 in [0, 1, 0x7F, 0x80, 0xFF, bytes[at] ^ 0x04] {
        var b = bytes
        b[at] = value
        if decodeError(SectionedFile.repaired(b)) != nil { refused += 1 }
      }
    }
    #expect(refused > 0)
  }
}

extension SectionedFile {
  /// `bytes` with each section's checksum recomputed, as far as its layout can be read.
  static func repaired(_ bytes: [UInt8]) -> [UInt8] {
    var b = bytes
    func u32(_ at: Int) -> Int? {
      guard at + 4 <= b.count else { return nil }
      return (0..<4).reduce(0) { $0 | Int(b[at + $1]) << (8 * $1) }
    }
    var at = 12
    for _ in 0..<min(u32(8) ?? 0, 64) {
      guard let length = u32(at + 4), at + 12 + length <= b.count else { break }
      let crc = ProgramCodec.crc32(Array(b[(at + 12)..<(at + 12 + length)]))
      for i in 0..<4 { b[at + 8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
      at += 12 + length
    }
    return b
  }
}
