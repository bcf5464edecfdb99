import CRDBridge
import Config
import Foundation
import RuleLang
import Testing

/// The seed's three VirtualServices (examples/udp-gateway) translate to the rule source in
/// examples/udp-gateway/rules/ and to the proxy configuration the example runs on.
@Suite struct SeedExampleTests {
  func translation() throws -> Translation {
    let names = [
      "examples/udp-gateway/virtualservices.yaml", "examples/udp-gateway/kubernetes.yaml",
    ]
    return Fixture.translate(try names.map { ($0, try Fixture.repoFile($0)) })
  }

  @Test func translatesToTheGoldenRuleSourceAndCompiles() throws {
    let t = try translation()
    #expect(t.diagnostics.all.isEmpty, "\(Fixture.messages(t))")
    #expect(t.listeners.map(\.listener.name) == ["transcoder", "my-udp-endpoint"])
    for l in t.listeners {
      let source = try #require(l.source)
      let golden = try Fixture.repoFile("examples/udp-gateway/rules/\(l.listener.name).rules")
      #expect(source == golden, "\(l.listener.name): regenerate with l7mp crd translate")
      let program = RuleCompiler.compile(SourceFile(name: l.listener.name, text: source))
      if case .failure(let e) = program { Issue.record("\(l.listener.name): \(e)") }
    }
  }

  @Test func proxyConfigurationPerProxySet() throws {
    let t = try translation()
    #expect(t.proxySets.map(\.name) == ["default/transcoder", "default/my-udp-service"])
    let transcoder = try #require(t.proxySets.first)
    #expect(transcoder.pods.map(\.ip) == ["127.0.0.2"])
    #expect(transcoder.config.admin.address == "127.0.0.2")
    #expect(
      transcoder.config.listeners == [
        ListenerConfig(
          name: "transcoder",
          spec: ListenerSpec(protocol: .webSocket, address: "127.0.0.2", port: 9999),
          rules: "transcoder")
      ])
    #expect(
      transcoder.config.clusters == [
        ClusterConfig(
          name: "transcoder-destination",
          spec: ClusterSpec(
            protocol: .unixDomainSocket, filename: "/tmp/l7mp-udp-gateway/uds-echo.sock"),
          endpoints: [
            EndpointConfig(spec: EndpointSpec(filename: "/tmp/l7mp-udp-gateway/uds-echo.sock"))
          ])
      ])
    let gateway = try #require(t.proxySets.last)
    #expect(gateway.pods.map(\.name) == ["gateway-0"])
    #expect(gateway.config.listeners.map(\.spec.port) == [9001])
    #expect(gateway.config.listeners.map(\.spec.address) == ["127.0.0.1"])
    #expect(
      gateway.config.clusters == [
        ClusterConfig(
          name: "transcoder", spec: ClusterSpec(protocol: .webSocket, port: 9999),
          endpoints: [EndpointConfig(spec: EndpointSpec(address: "127.0.0.2"))]),
        ClusterConfig(
          name: "worker", spec: ClusterSpec(protocol: .udp, port: 9999),
          endpoints: [EndpointConfig(spec: EndpointSpec(address: "127.0.0.3", port: 9999))]),
      ])
    #expect(gateway.config.rulelists.map(\.name) == ["my-udp-endpoint"])
  }

  @Test func configRoundTripsThroughYAMLAndJSON() throws {
    let t = try translation()
    for set in t.proxySets {
      let yaml = try YAMLWriter.encode(set.config)
      let back = try ConfigDocument.decode(ProxyConfig.self, from: Array(yaml.utf8), name: "out")
      #expect(back == set.config, "\(yaml)")
      let json = try JSONEncoder().encode(set.config)
      #expect(
        try ConfigDocument.decode(ProxyConfig.self, from: Array(json), name: "j") == set.config)
    }
  }
}
