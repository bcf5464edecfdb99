import Testing

@testable import Config

@Suite struct YAMLDecoderTests {
  struct Sample: Decodable, Equatable {
    var name: String
    var port: Int
    var ratio: Double
    var on: Bool
    var tags: [String]
    var nested: [String: Int]
    var optional: String?
    var small: UInt8?
  }

  func decode<T: Decodable>(_ type: T.Type, _ text: String) throws(ConfigError) -> T {
    try ConfigDocument.decode(T.self, from: Array(text.utf8), name: "c.yaml")
  }

  func failure<T: Decodable>(_ type: T.Type, _ text: String) -> String {
    do {
      _ = try decode(T.self, text)
      return "no error"
    } catch {
      return error.description
    }
  }

  @Test func decodesScalarsListsAndMappings() throws {
    let s = try decode(
      Sample.self,
      """
      name: "9001"
      port: 9001
      ratio: 2
      on: true
      tags: [a, 'b', "c"]
      nested: {x: 1, y: 0x10}
      optional: null
      """)
    #expect(
      s
        == Sample(
          name: "9001", port: 9001, ratio: 2, on: true, tags: ["a", "b", "c"],
          nested: ["x": 1, "y": 16], optional: nil, small: nil))
  }

  @Test func jsonIsYAML() throws {
    let c = try decode(
      ProxyConfig.self,
      #"{"listeners": [{"name": "u", "spec": {"protocol": "UDP", "port": 9001}, "rules": "r"}]}"#)
    #expect(c.listeners[0].spec.port == 9001)
  }

  @Test func jsonSurrogatePairsAndEscapes() throws {
    let json = #"{"a": "smile \ud83d\ude00 \u00e9 x\/y", "b": "\\ud83d\\ude00"}"#
    let node = try YAMLReader.document(Array(json.utf8), name: "j", limits: YAMLLimits())
    #expect(node["a"]?.scalar?.string == "smile 😀 é x/y")
    // An escaped backslash is no escape; a lone high surrogate stays an error of libyaml's.
    #expect(node["b"]?.scalar?.string == #"\ud83d\ude00"#)
    #expect(throws: ConfigError.self) {
      try YAMLReader.document(Array(#"{"c": "\ud83d"}"#.utf8), name: "j")
    }
  }

  @Test func proxyConfigFromYAML() throws {
    let c = try decode(
      ProxyConfig.self,
      """
      admin: {port: 1235}
      listeners:
        - name: udp-in
          spec: {protocol: UDP, port: 9001, idle_timeout: 5}
          rules: gw
      clusters:
        - name: worker
          spec: {protocol: UDP, port: 9999}
          endpoints: [{spec: {address: 127.0.0.3}}]
      rulelists:
        - name: gw
          source: |
            rulelist gw for UDP { rule a { route to worker } }
      """)
    #expect(c.admin.port == 1235)
    #expect(c.listeners[0].spec.idleTimeout == 5)
    #expect(c.clusters[0].endpoints[0].spec.address == "127.0.0.3")
    #expect(c.rulelists[0].source?.hasPrefix("rulelist gw for UDP") == true)
  }

  @Test(arguments: [
    (
      "name: a\nport: '9001'\nratio: 1\non: true\ntags: []\nnested: {}\n",
      "c.yaml:2:7: error: port: expected an integer, found the string '9001'"
    ),
    (
      "name: 12\nport: 1\nratio: 1\non: true\ntags: []\nnested: {}\n",
      "c.yaml:1:7: error: name: expected a string, found the integer 12"
    ),
    (
      "name: a\nport: 1\nratio: x\non: true\ntags: []\nnested: {}\n",
      "c.yaml:3:8: error: ratio: expected a number, found the string 'x'"
    ),
    (
      "name: a\nport: 1\nratio: 1\non: yes\ntags: []\nnested: {}\n",
      "c.yaml:4:5: error: on: expected true or false, found the string 'yes'"
    ),
    (
      "name: a\nport: 1\nratio: 1\non: true\ntags: [a, [b]]\nnested: {}\n",
      "c.yaml:5:11: error: tags[1]: expected a string, found a list"
    ),
    (
      "name: a\nport: 1\nratio: 1\non: true\ntags: []\nnested: {}\nsmall: 300\n",
      "c.yaml:7:8: error: small: 300 does not fit in UInt8"
    ),
    (
      "name: a\nratio: 1\non: true\ntags: []\nnested: {}\n",
      "c.yaml:1:1: error: missing key 'port' in the document"
    ),
    ("- a\n", "c.yaml:1:1: error: the document: expected a mapping, found a list"),
  ])
  func decodeErrorsHavePositions(text: String, expected: String) {
    #expect(failure(Sample.self, text) == expected)
  }

  @Test func configErrorsPointAtTheKeyOrValue() {
    let unknown = failure(
      ProxyConfig.self,
      """
      listeners:
        - name: a
          spec: {protocol: UDP, port: 9001, prot: 1}
          rules: r
      """)
    #expect(
      unknown.hasPrefix("c.yaml:3:39: error: listeners[0].spec.prot: unknown key 'prot'"),
      "\(unknown)")
    let range = failure(
      ProxyConfig.self,
      "listeners:\n  - name: a\n    spec:\n      protocol: UDP\n      port: 70000\n    rules: r\n")
    #expect(
      range.hasPrefix("c.yaml:5:13: error: listeners[0].spec.port: port 70000 is out of range"),
      "\(range)")
    let missing = failure(
      ProxyConfig.self, "listeners:\n  - name: a\n    spec: {protocol: UDP}\n    rules: r\n")
    #expect(missing.hasPrefix("c.yaml:3:11: error: missing key 'port'"), "\(missing)")
    let enumValue = failure(
      ProxyConfig.self,
      "listeners:\n  - name: a\n    spec: {protocol: UPD, port: 1}\n    rules: r\n")
    #expect(
      enumValue
        == "c.yaml:3:22: error: listeners[0].spec.protocol: 'UPD' is not one of: UDP, TCP, WebSocket, UnixDomainSocket"
    )
  }
}
