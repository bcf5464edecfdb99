// The interpreter runs a prepared form of the code (`PreparedOp`): fused tests with their
// constants read in, single intervals compared without a search, short prefixes with one masked
// load. These tests hold every prepared kind to the plain definition of its instruction
// (`Machine.general`, what a program verified with `specialized: false` runs) on the edge cases:
// absent fields, negative interval bounds, IPv6 and IPv4 addresses, prefixes of 0 to 9 bytes on
// payloads of 0 to 20 bytes, loads past the end, folded registers.

import Testing

@testable import RuleLang
@testable import VM

@Suite struct PreparedCodeTests {
  static func ip(_ s: String) -> IPAddress { try! IPAddress.parse(s).get() }

  static let packets: [OwnedPacket] = {
    var list = [OwnedPacket()]
    for (src, dst) in [
      ("10.0.0.7", "192.168.1.1"), ("10.0.1.0", "10.0.0.255"), ("2001:db8::1", "::ffff:10.0.0.7"),
      ("::", "255.255.255.255"), ("0.0.0.0", "10.0.0.0"),
    ] {
      for ports in [(nil, nil), (0, 65535), (9001, 5000), (5999, 6000)] as [(Int?, Int?)] {
        for payload in [
          nil, [], Array("S".utf8), Array("SIG1".utf8), Array("SIG12345".utf8),
          Array("SIG123456789xyzABCDE".utf8),
          [0x80, 0xE0, 0, 1, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF],
        ] as [[UInt8]?] {
          var p = OwnedPacket()
          if src != "0.0.0.0" {
            p.srcAddr = ip(src)
            p.dstAddr = ip(dst)
          }
          p.srcPort = ports.0
          p.dstPort = ports.1
          p.payload = payload
          p.httpPath = payload.map { String(decoding: $0, as: UTF8.self) }
          list.append(p)
        }
      }
    }
    return list
  }()

  /// Runs `code` (then `match 0` / `noMatch`) both ways on every packet; returns how many packets
  /// matched, so a test can see that both outcomes occur.
  func check(
    _ code: [Instruction], _ constants: [Constant], _ what: String,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) -> Int {
    let n = UInt32(code.count)
    let full = code + [Instruction(.match, c: 0), Instruction(.noMatch)]
    // Conditional jumps in `code` that name C = 0 go to `noMatch`.
    let fixed = full.enumerated().map { pc, ins -> Instruction in
      var i = ins
      if pc < code.count, ins.op.isConditionalJump, ins.c == 0 { i.c = n + 1 }
      return i
    }
    let program = handMade(fixed, constants: constants)
    let prepared: VerifiedProgram
    do {
      prepared = try Verifier.verify(program)
    } catch {
      Issue.record("\(what): \(error)", sourceLocation: sourceLocation)
      return 0
    }
    let plain = VerifiedProgram(program: program, worstPath: prepared.worstPath, specialized: false)
    var matched = 0
    for (i, packet) in Self.packets.enumerated() {
      let a = VM.evaluate(prepared, rulelist: 0, packet: packet).verdict
      let b = VM.evaluate(plain, rulelist: 0, packet: packet).verdict
      #expect(a == b, "\(what), packet \(i): \(packet)", sourceLocation: sourceLocation)
      if a.matched { matched += 1 }
    }
    return matched
  }

  /// A conditional jump to `noMatch` (C = 0 is fixed up) with polarity `k`.
  func j(_ op: Opcode, a: Int, b: Int = 0, k: Bool) -> Instruction {
    Instruction(op, a: UInt8(a) | (k ? 0x80 : 0), b: UInt16(b), c: 0)
  }

  @Test func fieldEquality() {
    for field in [Field.srcPort, .dstPort] {
      for value in [0, 5000, 9001, 65535] {
        for k in [false, true] {
          let m = check(
            [j(.jfeqi, a: Int(field.rawValue), b: value, k: k)], [], "\(field) == \(value) k \(k)")
          if field == .srcPort && value == 9001 { #expect(m > 0 && m < Self.packets.count) }
        }
      }
    }
  }

  @Test func fieldRanges() {
    let sets: [[ClosedRange<Int64>]] = [
      [5000...5999], [-5...3], [-10 ... -1], [0...0], [65535...70000], [Int64.min...Int64.max],
      [1...2, 5000...6000],
    ]
    for field in [Field.srcPort, .dstPort] {
      for set in sets {
        for k in [false, true] {
          _ = check(
            [j(.jfink, a: Int(field.rawValue), b: 0, k: k)], [.intSet(set)], "\(field) in \(set)")
        }
      }
    }
  }

  @Test func addressRanges() {
    func v(_ lo: String, _ hi: String) -> IPInterval {
      IPInterval(lo: Self.ip(lo), hi: Self.ip(hi))
    }
    let sets: [[IPInterval]] = [
      [v("10.0.0.0", "10.0.0.255")], [v("0.0.0.0", "255.255.255.255")], [v("::", "::")],
      [v("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")], [v("2001:db8::", "2001:db8::ffff")],
      [v("::ffff:10.0.0.7", "::ffff:10.0.0.7")],
      [v("10.0.0.0", "10.0.0.7"), v("2001:db8::", "2001:db9::")],
    ]
    for field in [Field.srcAddr, .dstAddr] {
      for set in sets {
        for k in [false, true] {
          _ = check(
            [j(.jfcidr, a: Int(field.rawValue), b: 0, k: k)], [.ipSet(set)], "\(field) in \(set)")
        }
      }
    }
  }

  @Test func shortAndLongPrefixes() {
    for prefix in ["", "S", "SIG", "SIG1", "SIG1234", "SIG12345", "SIG123456", "\u{80}"] {
      for field in [Field.payload, .httpPath, .httpHost] {
        for k in [false, true] {
          let m = check(
            [j(.jfstarts, a: Int(field.rawValue), b: 0, k: k)], [.bytes(Array(prefix.utf8))],
            "\(field) starts \"\(prefix)\"")
          if k && field == .payload { #expect(m > 0, "payload starts \"\(prefix)\"") }
        }
      }
    }
  }

  @Test func loadsAndComparisons() {
    let constants: [Constant] = [.int(0xDEAD_BEEF), .intSet([0x80...0xC0]), .int(-1)]
    for (op, width) in [(Opcode.ldb, 1), (.ldh, 2), (.ldw, 4)] {
      for offset in [0, 1, 7, 8, 11, 16, 19, 20] {
        for fold in [false, true] {
          var code: [Instruction] = []
          if fold {
            code += [Instruction(.movs, a: 1, b: 0), Instruction(.fold, a: 1)]
          }
          code += [
            Instruction(op, a: 2, b: UInt16(fold ? 1 : 0), c: UInt32(offset)),
            Instruction(.andi, a: 2, c: 0xFFFF_FFF0),
            j(.jeqk, a: 2, b: 0, k: false), j(.jnek, a: 2, b: 2, k: false),
            j(.jltk, a: 2, b: 0, k: true), j(.jgtk, a: 2, b: 2, k: false),
            j(.jlek, a: 2, b: 0, k: true), j(.jgek, a: 2, b: 2, k: false),
            j(.jink, a: 2, b: 1, k: true), j(.jeqi, a: 2, b: 0xE0, k: true),
            j(.jnei, a: 2, b: 0, k: false),
            Instruction(.len, a: 3, b: 0), j(.jltk, a: 3, b: 0, k: false),
          ]
          _ = check(code, constants, "\(op) width \(width) at \(offset) fold \(fold)")
        }
      }
    }
  }

  /// `Machine.bytesField` switches on `Field`'s raw values rather than calling
  /// `Field(rawValue:)`: they are the program format's field numbers.
  @Test func byteFieldNumbers() {
    let numbers: [Field: UInt8] = [
      .payload: 4, .httpMethod: 5, .httpPath: 6, .httpQuery: 7, .httpHost: 8, .unixFilename: 9,
    ]
    for (field, number) in numbers { #expect(field.rawValue == number, "\(field)") }
    #expect(Field.allCases.filter { $0.kind == .bytes }.count == numbers.count)
  }
}
