import Testing

@testable import Config

/// `YAMLWriter` output reads back to the same values, with plain scalars only where safe.
@Suite struct YAMLWriterTests {
  static let strings = [
    "plain", "yes", "true", "1", "0x1f", "1.5", ".inf", "null", "~", "", " lead", "trail ", "a: b",
    "a #b", "#c", "- x", "[x]", "{x}", "*a", "&a", "!t", "%p", "@x", "`x", "'q'", "\"d\"", "a\tb",
    "line\n", "two\nlines\n", "no newline\nat end", "ends\n\n", "\u{7f}", "ünïcödé", "10.0.0",
    "/var/run/x.sock", "rulelist a for UDP {\n  rule b { drop }\n}\n",
  ]

  @Test(arguments: strings)
  func stringsRoundTrip(text: String) throws {
    let node = YAMLNode(
      .mapping([
        YAMLPair(
          key: YAMLNode(
            .scalar(YAMLScalar(value: .string(text), text: text)), mark: .init(line: 1, column: 1)),
          value: YAMLNode(
            .sequence([
              YAMLNode(
                .scalar(YAMLScalar(value: .string(text), text: text)),
                mark: .init(line: 1, column: 1))
            ]),
            mark: .init(line: 1, column: 1)))
      ]), mark: .init(line: 1, column: 1))
    let written = YAMLWriter.write(node)
    let back = try YAMLReader.document(Array(written.utf8), name: "w")
    #expect(back.mapping?.first?.key.scalar?.value == .string(text), "\(written)")
    #expect(
      back.mapping?.first?.value.sequence?.first?.scalar?.value == .string(text), "\(written)")
  }

  @Test func plainWhereSafeAndLiteralBlocksForLines() throws {
    struct Doc: Encodable {
      var name = "worker"
      var port = 9999
      var ratio = 0.5
      var on = true
      var empty: [Int] = []
      var source = "rulelist a for UDP {\n}\n"
      var quoted = "9001"
    }
    #expect(
      try YAMLWriter.encode(Doc()) == """
        empty: []
        name: worker
        on: true
        port: 9999
        quoted: "9001"
        ratio: 0.5
        source: |
          rulelist a for UDP {
          }

        """)
  }

  @Test func otherLineBreaksCountAsLines() {
    // YAML breaks lines at CR too: positions follow it.
    #expect(throws: ConfigError.self) {
      try YAMLReader.documents(Array("a: 1\rb: [1\r".utf8), name: "cr")
    }
    do {
      _ = try YAMLReader.documents(Array("a: 1\rb: [1\r".utf8), name: "cr")
    } catch {
      #expect(error.line == 3, "\(error)")
    }
  }
}
