import Testing

@testable import RuleLang

@Suite struct LexerTests {
  func lex(_ text: String) -> ([Token], DiagnosticBag) {
    Lexer.tokenize(SourceFile(name: "t", text: text))
  }

  @Test func positionsOnEveryToken() {
    let (tokens, d) = lex("rule a\n  when IP.src_addr == 10.0.0.1 {")
    #expect(!d.hasErrors)
    let summary = tokens.map { "\($0.line):\($0.column)@\($0.offset) \($0.text)" }
    #expect(
      summary == [
        "1:1@0 rule", "1:6@5 a", "2:3@9 when", "2:8@14 IP.src_addr", "2:20@26 ==",
        "2:23@29 10.0.0.1", "2:32@38 {", "2:33@39 ",
      ])
  }

  @Test func namesJoinWithDashAndDotButNotRanges() {
    let (tokens, _) = lex("my-udp-endpoint worker.default lo..hi 1..5")
    #expect(
      tokens.map(\.kind) == [
        .identifier, .identifier, .identifier, .dotDot, .identifier, .integer, .dotDot, .integer,
        .endOfFile,
      ])
    #expect(tokens[2].text == "lo")
  }

  @Test func literalsDecode() {
    let (tokens, d) = lex(
      #"0xc0 42 "a\n\x41\u{1F600}" x"80 00 1f" 10.0.0.0/24 fe80::1 ::ffff:10.0.0.1 2001:db8::/32 1m30s 500ms"#
    )
    #expect(!d.hasErrors, "\(d.diagnostics)")
    #expect(tokens[0].value == .integer(0xC0))
    #expect(tokens[1].value == .integer(42))
    #expect(tokens[2].value == .string("a\nA😀"))
    #expect(tokens[3].value == .bytes([0x80, 0x00, 0x1F]))
    #expect(tokens[4].kind == .cidr)
    #expect(tokens[5].kind == .ip)
    #expect(tokens[5].text == "fe80::1")
    guard case .ip(let mapped) = tokens[6].value else {
      Issue.record("no ip")
      return
    }
    #expect(mapped.isV4 && mapped.description == "10.0.0.1")
    #expect(tokens[7].kind == .cidr)
    #expect(tokens[8].value == .duration(90_000_000_000))
    #expect(tokens[9].value == .duration(500_000_000))
    // `\xHH` is one byte: a string that is not UTF-8 text is the bytes it spells.
    let (raw, rd) = lex(#""\x80\x01A" "\xc3\xa9""#)
    #expect(!rd.hasErrors, "\(rd.diagnostics)")
    #expect(raw[0].kind == .bytes && raw[0].value == .bytes([0x80, 0x01, 0x41]))
    #expect(raw[1].kind == .string && raw[1].value == .string("é"))
  }

  @Test func sliceColonIsNotIPv6() {
    let (tokens, _) = lex("payload[0:4]")
    #expect(
      tokens.map(\.kind) == [
        .identifier, .leftBracket, .integer, .colon, .integer, .rightBracket, .endOfFile,
      ])
  }

  @Test func errorsCarryPositions() {
    let (_, d) = lex("\"abc\n 10.0.0.256 99999999999999999999 3d x\"0\"")
    let messages = d.diagnostics.map { "\($0.range.start): \($0.message)" }
    #expect(messages.count == 5, "\(messages)")
    #expect(messages[0].hasPrefix("0: unterminated string"))
    #expect(
      messages[1].hasPrefix(
        "6: invalid IPv4 address '10.0.0.256': IPv4 octet 256 is greater than 255"))
    #expect(
      messages[2].hasPrefix("17: integer literal '99999999999999999999' does not fit in 64 bits"))
    #expect(messages[3].hasPrefix("38: invalid duration '3d': unknown duration unit 'd'"))
    #expect(messages[4].hasPrefix("43: odd number of hex digits"))
  }
}

@Suite struct IPAddressTests {
  @Test func parseAndPrint() throws {
    for text in [
      "0.0.0.0", "255.255.255.255", "::", "::1", "fe80::1", "2001:db8::8:800:200c:417a",
      "1:2:3:4:5:6:7:8",
    ] {
      guard case .success(let a) = IPAddress.parse(text) else {
        Issue.record("\(text) did not parse")
        continue
      }
      #expect(a.description == text)
    }
    #expect(try IPAddress.parse("2001:DB8:0:0:0:0:0:1").get().description == "2001:db8::1")
  }

  @Test func rejects() {
    for text in [
      "1.2.3", "1.2.3.4.5", "256.1.1.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", ":1", "1:",
    ] {
      if case .success = IPAddress.parse(text) { Issue.record("\(text) should not parse") }
    }
  }

  @Test func cidrContainment() throws {
    let net = try CIDR.parse("10.0.0.0/24").get()
    #expect(net.contains(try IPAddress.parse("10.0.0.255").get()))
    #expect(!net.contains(try IPAddress.parse("10.0.1.0").get()))
    #expect(net.contains(try IPAddress.parse("::ffff:a00:1").get()))
    let all = try CIDR.parse("0.0.0.0/0").get()
    #expect(all.contains(try IPAddress.parse("1.2.3.4").get()))
    #expect(!all.contains(try IPAddress.parse("::1").get()))
    let host = try CIDR.parse("10.0.0.1/24").get()
    #expect(host.hadHostBits && host.description == "10.0.0.0/24")
    let v6 = try CIDR.parse("2001:db8::/32").get()
    #expect(v6.contains(try IPAddress.parse("2001:db8:ffff::1").get()))
    if case .success = CIDR.parse("10.0.0.0/33") { Issue.record("/33 accepted") }
  }
}
