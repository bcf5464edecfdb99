import Testing

@testable import Config

@Suite struct ProxyConfigTests {
  @Test func decodesL7mpShapesWithDefaults() throws {
    let json = """
      {"listeners": [{"name": "udp-in", "spec": {"protocol": "UDP", "port": 9001}, "rules": "gw"}],
       "clusters": [{"name": "worker", "spec": {"protocol": "UDP", "port": 9999},
                     "endpoints": [{"spec": {"address": "127.0.0.3"}}]}],
       "rulelists": [{"name": "gw", "file": "gateway.rules"}]}
      """
    let c = try ConfigDocument.decode(ProxyConfig.self, from: Array(json.utf8), name: "c.json")
    #expect(c.admin == AdminConfig(address: "127.0.0.1", port: 1234, logLevel: "info"))
    #expect(c.listeners[0].spec.address == "0.0.0.0")
    #expect(c.listeners[0].spec.idleTimeout == 60)
    #expect(c.clusters[0].endpoints[0].name == "127.0.0.3")
    #expect(c.clusters[0].loadbalancer.policy == .trivial)
  }

  /// swift-log's level names, and l7mp's (npmlog) mapped to them.
  @Test func logLevelsInBothSpellings() throws {
    for (given, stored) in [
      ("debug", "debug"), ("WARNING", "warning"), ("silly", "trace"), ("verbose", "debug"),
      ("warn", "warning"), ("silent", "critical"),
    ] {
      let json = #"{"admin": {"log_level": "\#(given)"}}"#
      let c = try ConfigDocument.decode(ProxyConfig.self, from: Array(json.utf8), name: "c.json")
      #expect(c.admin.logLevel == stored, "\(given)")
    }
  }

  @Test(arguments: [
    (#"{"listners": []}"#, "unknown key 'listners'"),
    (#"{"listeners": [{"name": "a", "spec": {"protocol": "UDP"}, "rules": "r"}]}"#, "needs 'port'"),
    (
      #"{"listeners": [{"name": "a", "spec": {"protocol": "UDP", "port": 70000}, "rules": "r"}]}"#,
      "out of range"
    ),
    (#"{"rulelists": [{"name": "a"}]}"#, "exactly one of 'source'"),
    (
      #"{"admin": {"log_level": "loud"}}"#, "1:25: error: admin.log_level: unknown log level 'loud'"
    ),
    (
      #"{"clusters": [{"name": "a", "spec": {"protocol": "UDP"}, "loadbalancer": {"policy": "ConsistentHash"}}]}"#,
      "needs a 'key'"
    ),
  ])
  func rejectsWithMessage(json: String, expected: String) {
    #expect {
      try ConfigDocument.decode(ProxyConfig.self, from: Array(json.utf8), name: "bad.json")
    } throws: { error in
      let text = "\(error)"
      return text.hasPrefix("bad.json") && text.contains(expected)
    }
  }
}
