import Foundation
import Testing

@testable import Config

@Suite struct YAMLReaderTests {
  func read(_ text: String, limits: YAMLLimits = YAMLLimits()) throws -> YAMLNode {
    try YAMLReader.document(Array(text.utf8), name: "t.yaml", limits: limits)
  }

  /// The error a text gets, as printed.
  func failure(_ text: String, limits: YAMLLimits = YAMLLimits()) -> String {
    do {
      _ = try YAMLReader.documents(Array(text.utf8), name: "t.yaml", limits: limits)
      return "no error"
    } catch {
      return error.description
    }
  }

  @Test(arguments: [
    ("42", YAMLScalar.Value.int(42)),
    ("-7", .int(-7)),
    ("0x1f", .int(31)),
    ("0o17", .int(15)),
    ("3.5", .float(3.5)),
    ("1e3", .float(1000)),
    (".5", .float(0.5)),
    ("-.inf", .float(-.infinity)),
    ("true", .bool(true)),
    ("False", .bool(false)),
    ("null", .null),
    ("~", .null),
    ("", .null),
    ("'42'", .string("42")),
    ("\"true\"", .string("true")),
    ("10.0.0", .string("10.0.0")),
    ("yes", .string("yes")),
    ("1_000", .string("1_000")),
    ("99999999999999999999", .float(1e20)),  // out of int range: the float pattern
    ("!!str 12", .string("12")),
    ("!!float 12", .float(12)),
    ("|\n  a\n  b\n", .string("a\nb\n")),
  ])
  func coreSchemaScalars(text: String, expected: YAMLScalar.Value) throws {
    let node = try read("v: \(text)")
    #expect(node["v"]?.scalar?.value == expected)
  }

  @Test func nestingWithPositions() throws {
    let node = try read(
      """
      spec:
        listener:
          - name: a
            port: 9001
        flow: {x: [1, 2]}
      """)
    let listener = try #require(node["spec"]?["listener"]?.sequence?.first)
    #expect(listener.mark == YAMLMark(line: 3, column: 7))
    #expect(listener["port"]?.scalar?.value == .int(9001))
    #expect(listener["port"]?.mark == YAMLMark(line: 4, column: 13))
    let flow = try #require(node["spec"]?["flow"]?["x"]?.sequence)
    #expect(flow.map(\.scalar?.value) == [.int(1), .int(2)])
    #expect(flow[1].mark == YAMLMark(line: 5, column: 17))
  }

  @Test func multiDocumentStream() throws {
    let docs = try YAMLReader.documents(
      Array("a: 1\n---\nb: 2\n---\n# only a comment\n---\n- x\n".utf8), name: "m.yaml")
    #expect(docs.count == 4)
    #expect(docs[0]["a"]?.scalar?.value == .int(1))
    #expect(docs[1].mark.line == 3)
    #expect(docs[2].isNull)
    #expect(docs[3].sequence?.count == 1)
    #expect(throws: ConfigError.self) {
      try YAMLReader.document(Array("a: 1\n---\nb: 2\n".utf8), name: "m.yaml")
    }
    #expect(try YAMLReader.documents([], name: "empty.yaml").isEmpty)
  }

  @Test func anchorsAndAliasesExpand() throws {
    let node = try read(
      """
      base: &b {protocol: UDP, port: 9001}
      copy: *b
      list: [&x 1, *x, *x]
      """)
    #expect(node["copy"]?["port"]?.scalar?.value == .int(9001))
    #expect(node["copy"]?.mark == YAMLMark(line: 2, column: 7))
    #expect(node["list"]?.sequence?.map(\.scalar?.value) == [.int(1), .int(1), .int(1)])
  }

  @Test func undefinedAliasIsAnError() {
    #expect(failure("a: *nope\n").hasPrefix("t.yaml:1:4: error: alias '*nope' refers to no anchor"))
  }

  @Test func billionLaughsIsRefused() {
    var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in 1...9 {
      let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
      text += "a\(i): &a\(i) [\(refs)]\n"
    }
    // Refused at the alias that crosses the limit, long before 10^9 nodes: the test finishing is
    // the bound (timings are not asserted on the shared machines).
    let message = failure(text)
    #expect(message.contains("aliases expand to more than 100000 nodes"), "\(message)")
    #expect(message.hasPrefix("t.yaml:5:"), "\(message)")
  }

  @Test func tenMegabyteDocumentReadsWithinBounds() throws {
    let line = "  - {name: endpoint-0000000, address: 10.0.0.1, port: 9001, tags: [a, b, c]}\n"
    let n = (10 << 20) / line.utf8.count + 1
    let text = "items:\n" + String(repeating: line, count: n)
    #expect(text.utf8.count > 10 << 20)
    let node = try read(text)
    #expect(node["items"]?.sequence?.count == n)
    let small = YAMLLimits(maxBytes: 1 << 20)
    #expect(failure(text, limits: small).contains("YAML documents are limited to 1048576 bytes"))
  }

  @Test func deepNestingIsRefusedQuickly() {
    let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    #expect(failure(deep) == "t.yaml:1:201: error: nesting is deeper than 200 levels")
    let blocks = (0..<300).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")
    #expect(failure(blocks).contains("nesting is deeper than 200 levels"))
    #expect(
      failure(String(repeating: "[", count: 150) + String(repeating: "]", count: 150)) == "no error"
    )
  }

  @Test func tooManyNodes() {
    let text = "[" + Array(repeating: "1", count: 1000).joined(separator: ",") + "]"
    #expect(failure(text, limits: YAMLLimits(maxNodes: 500)).contains("more than 500 nodes"))
  }

  @Test func duplicateKeysAreErrors() {
    #expect(
      failure("a: 1\nb: 2\na: 3\n")
        == "t.yaml:3:1: error: duplicate key 'a' (first at line 1, column 1)")
    #expect(failure("{x: 1, 'x': 2}").contains("duplicate key 'x'"))
    #expect(failure("0x10: a\n16: b\n").contains("duplicate key '16'"))
    #expect(failure("a: {b: 1}\nc: {b: 2}\n") == "no error")
  }

  @Test(arguments: [
    ("a: [1, 2\n", "t.yaml:2:1: error: did not find expected ',' or ']'"),
    ("a: b: c\n", "t.yaml:1:5: error: mapping values are not allowed in this context"),
    ("a:\n  - x\n  y: 1\n", "t.yaml:3:3: error: did not find expected '-' indicator"),
    ("a: 'unterminated\n", "t.yaml:2:1: error: found unexpected end of stream"),
    ("\t- x\n", "t.yaml:1:1: error: found character that cannot start any token"),
    ("a: !!int abc\n", "t.yaml:1:4: error: 'abc' is not a valid int"),
    ("a: !custom x\n", "t.yaml:1:4: error: unsupported tag '!custom'"),
  ])
  func syntaxErrorsHavePositions(text: String, expected: String) {
    let message = failure(text)
    #expect(message.hasPrefix(expected), "\(message)")
  }

  @Test func invalidUTF8IsAnErrorNotACrash() {
    let bytes: [UInt8] = Array("a: 1\nb: ".utf8) + [0xFF, 0xFE, 0x0A]
    #expect {
      try YAMLReader.documents(bytes, name: "bin.yaml")
    } throws: { error in
      "\(error)".hasPrefix("bin.yaml:2:4: error: invalid leading UTF-8 octet (byte 8)")
    }
  }
}
