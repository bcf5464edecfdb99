extension ProgramCodec {
  /// Reads a binary program. The result still has to pass the VM's verifier before it runs.
  public static func decode(_ bytes: [UInt8]) throws(ProgramFormatError) -> Program {
    var r = ByteReader(bytes: bytes)
    guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
      throw ProgramFormatError(offset: 0, message: "not an l7mp program (no \"L7MPBC\" magic)")
    }
    r.pos = 6
    let v = try r.u16()
    guard v == version else {
      throw ProgramFormatError(
        offset: 6, message: "program format version \(v); this l7mp reads version \(version)")
    }
    let count = try r.u32()
    guard count <= 64 else { throw r.error("\(count) sections is too many") }
    var sections: [String: (Int, [UInt8])] = [:]
    for _ in 0..<count {
      let tagBytes = try r.take(4)
      let tag = String(decoding: tagBytes, as: UTF8.self)
      let length = Int(try r.u32())
      let crc = try r.u32()
      let start = r.pos
      let payload = try r.take(length)
      guard crc32(payload) == crc else {
        throw ProgramFormatError(offset: start, message: "section \(tag) fails its checksum")
      }
      guard sections[tag] == nil else {
        throw ProgramFormatError(offset: start - 12, message: "section \(tag) appears twice")
      }
      sections[tag] = (start, payload)
    }
    guard r.pos == bytes.count else {
      throw r.error("\(bytes.count - r.pos) stray bytes after the last section")
    }
    func section(_ tag: String) throws(ProgramFormatError) -> ByteReader {
      guard let (start, payload) = sections[tag] else {
        throw ProgramFormatError(offset: bytes.count, message: "section \(tag) is missing")
      }
      return ByteReader(bytes: payload, base: start)
    }

    var s = try section("NAME")
    let sourceName = try s.string()
    try s.end()

    s = try section("CODE")
    let n = try s.count(8)
    var code: [Instruction] = []
    code.reserveCapacity(n)
    for _ in 0..<n {
      let at = s.base + s.pos
      guard let op = Opcode(rawValue: try s.u8()) else {
        throw ProgramFormatError(
          offset: at, message: "instruction \(code.count): unknown opcode \(bytes[at])")
      }
      let a = try s.u8()
      let b = try s.u16()
      let c = try s.u32()
      code.append(Instruction(op, a: a, b: b, c: c))
    }
    try s.end()

    s = try section("KPOL")
    let kn = try s.count(1)
    var constants: [Constant] = []
    for _ in 0..<kn { constants.append(try decodeConstant(&s)) }
    try s.end()

    s = try section("LIST")
    var lists: [RulelistInfo] = []
    for _ in 0..<(try s.count(12)) {
      lists.append(
        RulelistInfo(name: try s.string(), protocolName: try s.string(), entry: Int(try s.u32())))
    }
    try s.end()

    s = try section("RULE")
    var rules: [RuleInfo] = []
    for _ in 0..<(try s.count(17)) {
      let name = try s.string()
      let list = Int(try s.u32())
      let line = Int(try s.u32())
      let at = s.base + s.pos
      let kind = try s.u8()
      let arg = Int(try s.u32())
      let action: RuleAction
      switch kind {
      case 0: action = .drop
      case 1: action = .route(arg)
      case 2: action = .apply(arg)
      default:
        throw ProgramFormatError(offset: at, message: "rule '\(name)': unknown action kind \(kind)")
      }
      rules.append(RuleInfo(name: name, rulelist: list, line: line, action: action))
    }
    try s.end()

    s = try section("ROUT")
    var routes: [RouteInfo] = []
    for _ in 0..<(try s.count(37)) {
      let dest = try s.string()
      var via: [String] = []
      for _ in 0..<(try s.count(4)) { via.append(try s.string()) }
      var back: [String] = []
      for _ in 0..<(try s.count(4)) { back.append(try s.string()) }
      let at = s.base + s.pos
      let retry = try s.string()
      guard let policy = RetryPolicy(rawValue: retry) else {
        throw ProgramFormatError(
          offset: at, message: "route to '\(dest)': unknown retry policy '\(retry)'")
      }
      let retries = Int(try s.u32())
      let timeout = Int64(bitPattern: try s.u64())
      let orphan = try s.u8() != 0
      let idle = Int64(bitPattern: try s.u64())
      routes.append(
        RouteInfo(
          destination: dest, via: via, returnVia: back, retryOn: policy, retries: retries,
          timeout: timeout, removeOrphanSessions: orphan, idleTimeout: idle))
    }
    try s.end()
    return Program(
      code: code, constants: constants, rulelists: lists, rules: rules, routes: routes,
      sourceName: sourceName)
  }

  static func decodeConstant(_ s: inout ByteReader) throws(ProgramFormatError) -> Constant {
    let at = s.base + s.pos
    switch try s.u8() {
    case 0: return .int(Int64(bitPattern: try s.u64()))
    case 1: return .bytes(try s.blob())
    case 2: return .ip(try s.ip())
    case 3:
      var rs: [ClosedRange<Int64>] = []
      for _ in 0..<(try s.count(16)) {
        let lo = Int64(bitPattern: try s.u64())
        let hi = Int64(bitPattern: try s.u64())
        guard lo <= hi else { throw s.error("int interval \(lo)..\(hi) is empty") }
        rs.append(lo...hi)
      }
      return .intSet(rs)
    case 4:
      var rs: [IPInterval] = []
      for _ in 0..<(try s.count(32)) { rs.append(IPInterval(lo: try s.ip(), hi: try s.ip())) }
      return .ipSet(rs)
    case 5:
      var ms: [[UInt8]] = []
      for _ in 0..<(try s.count(4)) { ms.append(try s.blob()) }
      return .bytesSet(ms)
    case 6:
      let states = try s.count(256 * 4 + 1)
      let start = try s.u32()
      var transitions: [UInt32] = []
      transitions.reserveCapacity(states * 256)
      for _ in 0..<(states * 256) { transitions.append(try s.u32()) }
      var accepting: [Bool] = []
      var atEnd: [Bool] = []
      for _ in 0..<states {
        let f = try s.u8()
        accepting.append(f & 1 != 0)
        atEnd.append(f & 2 != 0)
      }
      do {
        return .automaton(
          try RegexAutomaton(
            validating: transitions, accepting: accepting, acceptingAtEnd: atEnd, start: start))
      } catch {
        throw ProgramFormatError(offset: at, message: "automaton: \(error.message)")
      }
    case 7: return .path(try s.string())
    case 8:
      var x = RuleIndex(
        rulePCs: try s.list(), end: try s.u32(), always: [], intTables: [], ipTables: [],
        prefixTables: [])
      x.always = try s.list()
      for _ in 0..<(try s.count(5)) {
        let f = try s.field()
        var t = IntKeyTable(field: f, lo: [], hi: [], lists: [])
        for _ in 0..<(try s.count(20)) {
          t.lo.append(Int64(bitPattern: try s.u64()))
          t.hi.append(Int64(bitPattern: try s.u64()))
          t.lists.append(try s.list())
        }
        x.intTables.append(t)
      }
      for _ in 0..<(try s.count(5)) {
        let f = try s.field()
        var t = IPKeyTable(field: f, lo: [], hi: [], lists: [])
        for _ in 0..<(try s.count(36)) {
          t.lo.append(try s.ip())
          t.hi.append(try s.ip())
          t.lists.append(try s.list())
        }
        x.ipTables.append(t)
      }
      for _ in 0..<(try s.count(5)) {
        let f = try s.field()
        var t = PrefixKeyTable(field: f, edgeBytes: [], edgeTargets: [], lists: [])
        for _ in 0..<(try s.count(12)) {
          t.edgeBytes.append(try s.blob())
          t.edgeTargets.append(try s.list())
          t.lists.append(try s.list())
        }
        x.prefixTables.append(t)
      }
      return .ruleIndex(x)
    case let kind:
      throw ProgramFormatError(offset: at, message: "unknown constant kind \(kind)")
    }
  }
}

/// Bounds-checked little-endian reads.
struct ByteReader {
  let bytes: [UInt8]
  var base = 0
  var pos = 0

  init(bytes: [UInt8], base: Int = 0) {
    self.bytes = bytes
    self.base = base
  }

  func error(_ m: String) -> ProgramFormatError {
    ProgramFormatError(offset: base + pos, message: m)
  }

  mutating func take(_ n: Int) throws(ProgramFormatError) -> [UInt8] {
    guard n >= 0, n <= bytes.count - pos else {
      throw error("truncated: needs \(n) bytes, \(bytes.count - pos) left")
    }
    defer { pos += n }
    return Array(bytes[pos..<(pos + n)])
  }

  mutating func u8() throws(ProgramFormatError) -> UInt8 { try take(1)[0] }
  mutating func u16() throws(ProgramFormatError) -> UInt16 {
    let b = try take(2)
    return UInt16(b[0]) | UInt16(b[1]) << 8
  }
  mutating func u32() throws(ProgramFormatError) -> UInt32 {
    let b = try take(4)
    return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
  }
  mutating func u64() throws(ProgramFormatError) -> UInt64 {
    let b = try take(8)
    return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }
  /// A count of items at least `minSize` bytes each, refused when the rest cannot hold them.
  mutating func count(_ minSize: Int) throws(ProgramFormatError) -> Int {
    let n = Int(try u32())
    guard n <= (bytes.count - pos) / max(1, minSize) else {
      throw error("count \(n) is larger than the \(bytes.count - pos) remaining bytes can hold")
    }
    return n
  }
  mutating func blob() throws(ProgramFormatError) -> [UInt8] { try take(Int(try u32())) }
  mutating func string() throws(ProgramFormatError) -> String {
    let b = try blob()
    guard let s = String(validating: b, as: UTF8.self) else {
      throw error("string is not valid UTF-8")
    }
    return s
  }
  mutating func list() throws(ProgramFormatError) -> [UInt32] {
    var xs: [UInt32] = []
    for _ in 0..<(try count(4)) { xs.append(try u32()) }
    return xs
  }
  mutating func field() throws(ProgramFormatError) -> Field {
    let raw = try u8()
    guard let f = Field(rawValue: raw) else { throw error("unknown field \(raw)") }
    return f
  }
  mutating func ip() throws(ProgramFormatError) -> IPAddress {
    IPAddress(high: try u64(), low: try u64())
  }
  func end() throws(ProgramFormatError) {
    guard pos == bytes.count else {
      throw error("\(bytes.count - pos) unexpected bytes at the end of the section")
    }
  }
}
