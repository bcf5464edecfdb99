import Testing

@testable import RuleLang
@testable import VM

/// The packet literal syntax (docs/packets.md): what each form means, that `format` prints what
/// `parse` reads back, and errors that point at the mistake and say what was expected.
@Suite struct PacketLiteralTests {
  func ip(_ s: String) -> IPAddress { try! IPAddress.parse(s).get() }

  @Test func udpWithTextPayload() throws {
    let p = try PacketLiteral.parse(#"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#)
    #expect(p.protocol == .udp)
    #expect(p.packet.srcAddr == ip("10.0.0.7") && p.packet.srcPort == 9001)
    #expect(p.packet.dstAddr == ip("10.0.0.1") && p.packet.dstPort == 9001)
    #expect(p.packet.payload == Array("hello".utf8))
    #expect(p.packet.httpMethod == nil && p.packet.headers.isEmpty && p.packet.labels.isEmpty)
  }

  @Test func ipv6AndHexPayload() throws {
    let p = try PacketLiteral.parse(#"udp [::1]:5000 -> [::1]:53 payload x"80 00 1f""#)
    #expect(p.packet.srcAddr == ip("::1") && p.packet.dstPort == 53)
    #expect(p.packet.payload == [0x80, 0x00, 0x1F])
    let q = try PacketLiteral.parse(#"udp [::ffff:10.0.0.1]:1 -> [2001:db8::1]:2 payload x"8000""#)
    #expect(q.packet.srcAddr == IPAddress(v4: 0x0A00_0001))
    #expect(q.packet.payload == [0x80, 0x00])
  }

  @Test func udpWithoutPayloadHasAnEmptyOne() throws {
    let p = try PacketLiteral.parse("udp 1.2.3.4:1 -> 5.6.7.8:2")
    #expect(p.packet.payload == [])
  }

  @Test func tcpHasNoPayload() throws {
    let p = try PacketLiteral.parse("tcp 10.0.0.1:40000 -> 10.0.0.2:80")
    #expect(p.protocol == .tcp && p.packet.payload == nil && p.packet.dstPort == 80)
    let e = #expect(throws: PacketLiteralError.self) {
      try PacketLiteral.parse(#"tcp 10.0.0.1:1 -> 10.0.0.2:80 payload "x""#)
    }
    #expect(e?.message.contains("once per connection") == true)
    #expect(e?.offset == 30)
  }

  @Test func webSocketRequest() throws {
    let p = try PacketLiteral.parse(
      #"ws 127.0.0.1:40000 -> 127.0.0.1:8888 GET /path?x=1 headers {"id": "1", "User-Agent": "curl"} payload "hi""#
    )
    #expect(p.protocol == .webSocket)
    #expect(p.packet.httpMethod == "GET" && p.packet.httpPath == "/path")
    #expect(p.packet.httpQuery == "x=1" && p.packet.httpHost == nil)
    #expect(p.packet.headers.map(\.name) == ["id", "User-Agent"])
    #expect(p.packet.headers.map(\.value) == ["1", "curl"])
    #expect(p.packet.payload == Array("hi".utf8))
    let d = try PacketLiteral.parse(#"ws 1.1.1.1:1 -> 2.2.2.2:2 host "example.com""#)
    #expect(d.packet.httpMethod == "GET" && d.packet.httpPath == "/" && d.packet.httpQuery == "")
    #expect(d.packet.httpHost == "example.com")
    let bare = try PacketLiteral.parse(#"ws 1.1.1.1:1 -> 2.2.2.2:2 POST /a headers {id: 1}"#)
    #expect(bare.packet.httpMethod == "POST" && bare.packet.headers.first?.value == "1")
    // Without addresses (the REPL's shorthand): IP and port fields are absent.
    let short = try PacketLiteral.parse(#"ws GET /chat headers {id: 1} payload x"80""#)
    #expect(short.protocol == .webSocket && short.packet.httpPath == "/chat")
    #expect(short.packet.srcAddr == nil && short.packet.dstPort == nil)
    #expect(short.packet.payload == [0x80] && short.packet.headers.first?.value == "1")
    let optionsOnly = try PacketLiteral.parse(#"ws headers {id: 1}"#)
    #expect(optionsOnly.packet.httpMethod == "GET" && optionsOnly.packet.srcPort == nil)
  }

  @Test func unixSocket() throws {
    let p = try PacketLiteral.parse("uds /var/run/sock/uds-echo.sock")
    #expect(p.protocol == .unixDomainSocket)
    #expect(p.packet.unixFilename == "/var/run/sock/uds-echo.sock")
    #expect(p.packet.srcAddr == nil && p.packet.payload == nil)
    let q = try PacketLiteral.parse(#"uds "/tmp/with space.sock" labels {a: 1}"#)
    #expect(q.packet.unixFilename == "/tmp/with space.sock")
  }

  @Test func labelsOfEachKind() throws {
    let p = try PacketLiteral.parse(
      #"udp 1.1.1.1:1 -> 2.2.2.2:2 labels {ssrc: 5, kind: "x", peer: 10.0.0.1, v6: ::1, w: [fe80::1], raw: x"01 02", neg: -3, hex: 0xff, on: true, "odd key": 1}"#
    )
    let labels = p.packet.labels
    #expect(
      labels.map(\.name) == [
        "ssrc", "kind", "peer", "v6", "w", "raw", "neg", "hex", "on", "odd key",
      ])
    #expect(
      labels.map(\.value) == [
        .int(5), .bytes(Array("x".utf8)), .ip(ip("10.0.0.1")), .ip(ip("::1")), .ip(ip("fe80::1")),
        .bytes([1, 2]), .int(-3), .int(255), .int(1), .int(1),
      ])
  }

  @Test func escapesInStrings() throws {
    let p = try PacketLiteral.parse(#"udp 1.1.1.1:1 -> 2.2.2.2:2 payload "a\n\t\"\\\x80\u{e9}\0""#)
    #expect(p.packet.payload == [0x61, 0x0A, 0x09, 0x22, 0x5C, 0x80, 0xC3, 0xA9, 0x00])
  }

  @Test func formatRoundTrips() throws {
    let literals = [
      #"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#,
      #"udp [::1]:5000 -> [::1]:53 payload x"80 00 1f""#,
      "tcp 10.0.0.1:40000 -> 10.0.0.2:80",
      #"ws 127.0.0.1:40000 -> 127.0.0.1:8888 GET /path?x=1 headers {"id": "1", "User-Agent": "curl"} payload "hi""#,
      "uds /var/run/sock/uds-echo.sock",
      #"uds "" labels {a: 1}"#,
      #"ws GET /chat headers {"id": "1"} payload x"80""#,
      #"ws 1.1.1.1:1 -> [2001:db8::1]:2 POST "/with space" host "h" labels {a: "b\n", "c d": x"ff"}"#,
      #"udp 1.1.1.1:0 -> 2.2.2.2:65535 payload "tab\tand\u{1F600}" labels {n: -9223372036854775808}"#,
    ]
    for text in literals {
      let p = try PacketLiteral.parse(text)
      let printed = PacketLiteral.format(p)
      let again = try PacketLiteral.parse(printed)
      #expect(again == p, "\(text) printed as \(printed)")
      #expect(PacketLiteral.format(again) == printed)
    }
    #expect(
      PacketLiteral.format(
        try PacketLiteral.parse(#"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#))
        == #"udp 10.0.0.7:9001 -> 10.0.0.1:9001 payload "hello""#)
    #expect(
      PacketLiteral.format(
        try PacketLiteral.parse(#"udp [::1]:5000 -> [::1]:53 payload x"80 00 1f""#))
        == #"udp [::1]:5000 -> [::1]:53 payload x"80 00 1f""#)
  }

  @Test func errorsPointAtTheMistakeAndShowTheSyntax() throws {
    let cases: [(String, String, Int)] = [
      ("", "expected a protocol (udp, tcp, ws or uds)", 0),
      ("quic 1.1.1.1:1 -> 2.2.2.2:2", "unknown protocol 'quic'", 0),
      ("udp 1.1.1.1 -> 2.2.2.2:2", "expected ':PORT' after the source address", 11),
      ("udp 1.1.1.1:1 2.2.2.2:2", "expected '->' between the source and destination", 14),
      ("udp 1.1.1.1:1 -> 2.2.2.2:70000", "port 70000 is out of range", 25),
      ("udp 1.1.1.300:1 -> 2.2.2.2:2", "invalid source address '1.1.1.300'", 4),
      ("udp ::1:5000 -> 2.2.2.2:2", "write IPv6 endpoints in brackets", 4),
      ("udp [::1:5000 -> 2.2.2.2:2", "expected ']' after the IPv6 address", 13),
      (
        "udp 1.1.1.1:1 -> 2.2.2.2:2 payload hello",
        "expected the payload as \"text\" or x\"hex bytes\"", 35
      ),
      (#"udp 1.1.1.1:1 -> 2.2.2.2:2 payload x"8""#, "odd number of hex digits", 37),
      (#"udp 1.1.1.1:1 -> 2.2.2.2:2 payload "abc"#, "unterminated string", 35),
      (#"udp 1.1.1.1:1 -> 2.2.2.2:2 payload "a" payload "b""#, "'payload' is given twice", 39),
      (
        #"udp 1.1.1.1:1 -> 2.2.2.2:2 headers {"a": "b"}"#,
        "HTTP headers and host exist on WebSocket", 27
      ),
      ("udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a 1}", "expected ':' after label 'a'", 37),
      ("udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a: 1", "'{' is not closed", 34),
      ("udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a: 1 b: 2}", "expected ',' or '}' in labels", 40),
      ("udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a: 1, a: 2}", "label 'a' is given twice", 41),
      (
        "udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a: 99999999999999999999}", "does not fit in 64 bits", 38
      ),
      (
        "udp 1.1.1.1:1 -> 2.2.2.2:2 labels {a: 10.0.0}", "invalid address '10.0.0' for label 'a'",
        38
      ),
      ("ws 1.1.1.1:1 -> 2.2.2.2:2 GET", "expected the request target after GET", 29),
      ("uds", "expected the socket's path after 'uds'", 3),
      ("ws fe80::1:5000 -> [::1]:80", "write IPv6 endpoints in brackets", 3),
      ("udp GET /", "expected the source address and port", 4),
      (#"udp 1.1.1.1:1 -> 2.2.2.2:2 payload "\q""#, "invalid escape in string", 36),
    ]
    for (text, message, offset) in cases {
      do {
        let p = try PacketLiteral.parse(text)
        Issue.record("\(text) parsed as \(p)")
      } catch {
        #expect(error.message.contains(message), "\(text): \(error.message)")
        #expect(error.offset == offset, "\(text): offset \(error.offset), message \(error.message)")
      }
    }
    // The first error message shows the valid forms.
    do {
      _ = try PacketLiteral.parse("hello")
    } catch {
      #expect(error.message.contains("udp SRC:PORT -> DST:PORT"))
      #expect(error.length == 5)
    }
  }
}
